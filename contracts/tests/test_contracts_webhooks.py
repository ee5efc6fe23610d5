"""The merchant webhook's signature scheme, as documented to merchants."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from relais_contracts.actions import ReshipRequest
from relais_contracts.webhooks import (
    ActionWebhookRequest,
    ActionWebhookResponse,
    SignatureError,
    signature_header,
    verify_signature,
)

SECRET = b"whsec_test_5b1f0c"
NOW = datetime(2025, 3, 7, 12, 42, 31, tzinfo=UTC)
TS = int(NOW.timestamp())


def _body() -> bytes:
    request = ActionWebhookRequest(
        action_id=uuid4(),
        merchant_id="maison-lune",
        requested_at=NOW,
        attempt=1,
        automatic=False,
        action=ReshipRequest(),
        order_id="ML-2025-10452",
        order_number="#10452",
        shipment_id="ML-10452-1",
    )
    return request.model_dump_json().encode()


def test_documented_recipe_verifies() -> None:
    body = _body()
    header = signature_header([SECRET], TS, body)
    expected = hmac.new(SECRET, f"{TS}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"t={TS},v1={expected}"
    assert verify_signature(SECRET, header, body, NOW) == TS


def test_rotation_sends_both_signatures() -> None:
    body = _body()
    header = signature_header([b"old-secret", SECRET], TS, body)
    assert verify_signature(SECRET, header, body, NOW) == TS
    assert verify_signature(b"old-secret", header, body, NOW) == TS


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "malformed"),
        (f"t={TS}", "malformed"),
        ("v1=abc", "malformed"),
        (f"t={TS},v1=00", "does not match"),
    ],
)
def test_bad_headers_are_refused(header: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_signature(SECRET, header, _body(), NOW)


def test_tampered_body_and_replay_are_refused() -> None:
    body = _body()
    header = signature_header([SECRET], TS, body)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, header, body + b" ", NOW)
    later = datetime.fromtimestamp(TS + 301, UTC)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(SECRET, header, body, later)


def test_response_is_tolerant() -> None:
    response = ActionWebhookResponse.model_validate_json(
        b'{"status": "completed", "reference": "R-1", "extra": true}'
    )
    assert response.reference == "R-1"
