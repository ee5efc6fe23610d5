"""Aggregators as sources: AfterShip's tracking webhook names the real carrier (its
slug, through the alias table) and is signed as AfterShip documents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from relais_runtime.merchants.tracking import SignatureEncoding, WebhookScheme
from relais_tracker.adapters.carriers import PayloadError, parse
from relais_tracker.adapters.webhook_auth import WebhookCredential


def _aftership(**msg: object) -> bytes:
    checkpoint = {
        "checkpoint_time": "2026-03-03T14:25:00+01:00",
        "tag": "AvailableForPickup",
        "subtag": "AvailableForPickup_001",
        "message": "Disponible en point de retrait",
    }
    body = {"tracking_number": "6A19876543210", "slug": "colissimo", "checkpoints": [checkpoint]}
    return json.dumps({"event": "tracking_update", "msg": {**body, **msg}}).encode()


def test_the_real_carrier_is_the_slug_through_the_alias_table() -> None:
    for slug, carrier in (("la-poste-colissimo", "colissimo"), ("mondialrelay", "mondial_relay")):
        [event] = parse("aftership", _aftership(slug=slug))
        assert event.carrier == carrier
        assert event.substatus.value == "ready_for_pickup"


def test_a_webhook_without_slug_or_checkpoints_is_refused_with_a_reason() -> None:
    with pytest.raises(PayloadError, match="slug"):
        parse("aftership", _aftership(slug=None))
    with pytest.raises(PayloadError, match="no checkpoint"):
        parse("aftership", _aftership(checkpoints=[]))
    with pytest.raises(PayloadError, match="msg"):
        parse("aftership", b'{"event": "tracking_update"}')


def test_aftership_signature_is_base64_hmac_sha256_of_the_body() -> None:
    body = _aftership()
    secret = b"aftership-webhook-secret"
    signature = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
    credential = WebhookCredential(
        merchant_id="shop-a",
        scheme=WebhookScheme.HMAC_SHA256,
        header="aftership-hmac-sha256",
        secret=secret,
        encoding=SignatureEncoding.BASE64,
        prefix="",
    )

    ok = credential.verifies(
        headers={"aftership-hmac-sha256": signature}, body=body, now=None, tolerance_s=300
    )
    tampered = credential.verifies(
        headers={"aftership-hmac-sha256": signature}, body=body + b" ", now=None, tolerance_s=300
    )

    assert ok
    assert not tampered
