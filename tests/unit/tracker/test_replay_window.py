"""Carrier webhooks signed with a timestamp: refused outside the tolerance (replay)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_contracts.webhooks import signature_header
from relais_runtime.merchants.base import SecretRef
from relais_runtime.merchants.tracking import CarrierWebhookAuth, WebhookScheme
from relais_tracker.adapters.webhook_auth import WebhookAuthenticator

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BODY = b'{"tracking_number": "RL1", "events": []}'


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> bytes:
    value = secrets.token_hex(24)
    monkeypatch.setenv("TEST_REPLAY_WINDOW_SECRET", value)
    return value.encode()


def authenticator(*, tolerance_s: int = 300) -> WebhookAuthenticator:
    auth = CarrierWebhookAuth(
        scheme=WebhookScheme.TIMESTAMPED_HMAC_SHA256,
        header="Carrier-Signature",
        secret=SecretRef(env="TEST_REPLAY_WINDOW_SECRET"),
    )
    return WebhookAuthenticator.of(
        platform={"generic": auth}, merchants={}, tolerance_s=tolerance_s
    )


def signed(secret: bytes, *, age: timedelta, body: bytes = BODY) -> dict[str, str]:
    stamp = int((NOW - age).timestamp())
    return {"carrier-signature": signature_header([secret], stamp, body)}


@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        (timedelta(0), True),
        (timedelta(minutes=4, seconds=59), True),
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(hours=6), False),
        (-timedelta(minutes=5, seconds=1), False),
    ],
)
def test_the_default_tolerance_is_five_minutes_either_way(
    secret: bytes, age: timedelta, accepted: bool
) -> None:
    merchant = authenticator().authenticate(
        carrier="generic", headers=signed(secret, age=age), body=BODY, now=NOW
    )
    assert merchant == (UNKNOWN_MERCHANT if accepted else None)


def test_the_tolerance_is_configurable(secret: bytes) -> None:
    headers = signed(secret, age=timedelta(seconds=90))
    strict = authenticator(tolerance_s=60)
    lenient = authenticator(tolerance_s=120)
    assert strict.authenticate(carrier="generic", headers=headers, body=BODY, now=NOW) is None
    assert lenient.authenticate(carrier="generic", headers=headers, body=BODY, now=NOW) == (
        UNKNOWN_MERCHANT
    )


def test_a_fresh_timestamp_does_not_save_a_wrong_signature(secret: bytes) -> None:
    auth = authenticator()
    headers = signed(secret, age=timedelta(0))
    assert auth.authenticate(carrier="generic", headers=headers, body=BODY + b" ", now=NOW) is None
    stamp = int(NOW.timestamp())
    forged = {"carrier-signature": signature_header([b"not-the-secret"], stamp, BODY)}
    assert auth.authenticate(carrier="generic", headers=forged, body=BODY, now=NOW) is None
    assert auth.authenticate(carrier="generic", headers={}, body=BODY, now=NOW) is None
    malformed = {"carrier-signature": "v1=abc"}
    assert auth.authenticate(carrier="generic", headers=malformed, body=BODY, now=NOW) is None


def test_without_a_clock_a_timestamped_signature_is_refused(secret: bytes) -> None:
    headers = signed(secret, age=timedelta(0))
    assert authenticator().authenticate(carrier="generic", headers=headers, body=BODY) is None
