"""The demo's carrier credentials, checked by the tracker's real authenticator: one
platform credential per carrier endpoint, each carrier's calls signed its own way."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter

from relais_cli.demo.carriers import FORMATS, GENERIC
from relais_cli.demo_cmd import (
    CARRIER_WEBHOOKS_ENV,
    carrier_headers,
    carrier_webhooks_environment,
)
from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_runtime.merchants.tracking import CarrierWebhookAuth
from relais_tracker.adapters.webhook_auth import WebhookAuthenticator

CARRIERS = (*FORMATS, GENERIC)
BODY = b'{"tracking_number": "RDTEST00042"}'


@pytest.fixture
def authenticator(monkeypatch: pytest.MonkeyPatch) -> WebhookAuthenticator:
    secrets = {carrier: f"test-only-{carrier}-secret" for carrier in CARRIERS}
    environment = carrier_webhooks_environment(secrets)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    platform = TypeAdapter(dict[str, CarrierWebhookAuth]).validate_json(
        environment[CARRIER_WEBHOOKS_ENV]
    )
    assert set(platform) == set(CARRIERS)
    assert all(secret not in environment[CARRIER_WEBHOOKS_ENV] for secret in secrets.values())
    return WebhookAuthenticator.of(platform=platform, merchants={})


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


@pytest.mark.parametrize("carrier", CARRIERS)
def test_each_carrier_call_is_accepted_with_its_own_credential_only(
    carrier: str, authenticator: WebhookAuthenticator
) -> None:
    own = carrier_headers(carrier=carrier, secret=f"test-only-{carrier}-secret", body=BODY)
    other = carrier_headers(carrier=carrier, secret="test-only-other-secret", body=BODY)

    assert authenticator.authenticate(carrier=carrier, headers=_lower(own), body=BODY) == (
        UNKNOWN_MERCHANT
    )
    assert authenticator.authenticate(carrier=carrier, headers=_lower(other), body=BODY) is None


def test_ups_sends_its_credential_and_fedex_signs_in_its_own_header() -> None:
    ups = carrier_headers(carrier="ups", secret="test-only-ups-secret", body=BODY)
    fedex = carrier_headers(carrier="fedex", secret="test-only-fedex-secret", body=BODY)

    assert ups["credential"] == "test-only-ups-secret"
    assert set(fedex) == {"Content-Type", "fdx-signature"}
    assert len(fedex["fdx-signature"]) == 64


@pytest.mark.parametrize("carrier", [c for c in CARRIERS if c != "ups"])
def test_a_signed_call_with_a_changed_body_is_refused(
    carrier: str, authenticator: WebhookAuthenticator
) -> None:
    headers = carrier_headers(carrier=carrier, secret=f"test-only-{carrier}-secret", body=BODY)
    changed = json.dumps({"tracking_number": "RDTEST00043"}).encode()

    assert (
        authenticator.authenticate(carrier=carrier, headers=_lower(headers), body=changed) is None
    )
