"""Order API keys and carrier webhook credentials (generated test secrets only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_runtime.api_keys import ApiKeyRing, api_key_sha256
from relais_runtime.merchants import MerchantConfig, MerchantConfigError, parse_merchant
from relais_runtime.merchants.base import SecretRef
from relais_runtime.merchants.tracking import CarrierWebhookAuth, SignatureEncoding, WebhookScheme
from relais_runtime.settings import ConfigurationError
from relais_tracker.adapters.webhook_auth import WebhookAuthenticator


def merchant(merchant_id: str, tracking: dict[str, Any]) -> MerchantConfig:
    return parse_merchant(
        Path(f"{merchant_id}.yaml"),
        {
            "merchant_id": merchant_id,
            "branding": {"display_name": merchant_id},
            "tracking": tracking,
        },
    )


def test_an_api_key_identifies_its_merchant_and_only_its_hash_is_configured() -> None:
    key_a, key_b = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    ring = ApiKeyRing.of(
        {
            "shop-a": merchant(
                "shop-a", {"api_keys": [{"id": "k1", "sha256": api_key_sha256(key_a)}]}
            ),
            "shop-b": merchant(
                "shop-b", {"api_keys": [{"id": "k1", "sha256": api_key_sha256(key_b)}]}
            ),
        }
    )
    assert ring.merchant_of(key_a) == "shop-a"
    assert ring.merchant_of(key_b) == "shop-b"
    assert ring.merchant_of(key_a + "x") is None
    assert ring.merchant_of("") is None
    assert api_key_sha256(key_a) == hashlib.sha256(key_a.encode()).hexdigest()


def test_one_key_configured_for_two_merchants_stops_start_up() -> None:
    digest = api_key_sha256(secrets.token_urlsafe(32))
    with pytest.raises(ConfigurationError, match="configured twice"):
        ApiKeyRing.of(
            {
                name: merchant(name, {"api_keys": [{"id": "k", "sha256": digest}]})
                for name in ("shop-a", "shop-b")
            }
        )


def test_a_bad_tracking_section_names_file_field_and_reason() -> None:
    with pytest.raises(MerchantConfigError) as caught:
        merchant("shop-a", {"api_keys": [{"id": "k", "sha256": "not-a-hash"}]})
    message = str(caught.value)
    assert "shop-a.yaml" in message
    assert "tracking.api_keys.0.sha256" in message
    with pytest.raises(MerchantConfigError, match=r"tracking\.carrier_webhooks"):
        merchant(
            "shop-a",
            {
                "carrier_webhooks": {
                    "DHL!": {"scheme": "shared_secret", "header": "x", "secret": {"env": "X"}}
                }
            },
        )


def authenticator(
    monkeypatch: pytest.MonkeyPatch, *, secret: str, **auth: Any
) -> WebhookAuthenticator:
    monkeypatch.setenv("TEST_CARRIER_SECRET", secret)
    return WebhookAuthenticator.of(
        platform={"dhl": CarrierWebhookAuth(secret=SecretRef(env="TEST_CARRIER_SECRET"), **auth)},
        merchants={},
    )


def test_hmac_signature_over_the_raw_body(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = secrets.token_hex(16)
    body = b'{"shipments": []}'
    auth = authenticator(
        monkeypatch,
        secret=secret,
        scheme=WebhookScheme.HMAC_SHA256,
        header="X-Sig",
        prefix="sha256=",
    )
    good = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert auth.authenticate(carrier="dhl", headers={"x-sig": good}, body=body) == UNKNOWN_MERCHANT
    assert auth.authenticate(carrier="dhl", headers={"x-sig": good}, body=body + b" ") is None
    assert auth.authenticate(carrier="dhl", headers={"x-sig": good[7:]}, body=body) is None
    assert auth.authenticate(carrier="dhl", headers={}, body=body) is None
    assert auth.authenticate(carrier="ups", headers={"x-sig": good}, body=body) is None


def test_base64_hmac_and_shared_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = secrets.token_hex(16)
    body = b"{}"
    auth = authenticator(
        monkeypatch,
        secret=secret,
        scheme=WebhookScheme.HMAC_SHA256,
        header="fdx-signature",
        encoding=SignatureEncoding.BASE64,
    )
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert auth.authenticate(carrier="dhl", headers={"fdx-signature": signature}, body=body)
    shared = authenticator(
        monkeypatch, secret=secret, scheme=WebhookScheme.SHARED_SECRET, header="credential"
    )
    assert shared.authenticate(carrier="dhl", headers={"credential": secret}, body=body)
    assert (
        shared.authenticate(carrier="dhl", headers={"credential": secret[:-1]}, body=body) is None
    )


def test_a_merchant_credential_attributes_the_call_to_that_merchant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOP_A_UPS", "a-" + secrets.token_hex(8))
    monkeypatch.setenv("SHOP_B_UPS", "b-" + secrets.token_hex(8))
    shops = {
        name: merchant(
            name,
            {
                "carrier_webhooks": {
                    "ups": {
                        "scheme": "shared_secret",
                        "header": "credential",
                        "secret": {"env": env},
                    }
                }
            },
        )
        for name, env in (("shop-a", "SHOP_A_UPS"), ("shop-b", "SHOP_B_UPS"))
    }
    auth = WebhookAuthenticator.of(platform={}, merchants=shops)
    headers = {"credential": os.environ["SHOP_B_UPS"]}
    assert auth.authenticate(carrier="ups", headers=headers, body=b"{}") == "shop-b"


def test_a_missing_secret_stops_start_up_naming_where_it_was_expected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigurationError, match="RELAIS_CARRIER_WEBHOOKS: dhl: secret"):
        WebhookAuthenticator.of(
            platform={
                "dhl": CarrierWebhookAuth(
                    scheme=WebhookScheme.SHARED_SECRET,
                    header="x",
                    secret=SecretRef(env="NOT_SET_ANYWHERE"),
                )
            },
            merchants={},
        )
