"""Standard Webhooks signatures (`actions.webhook.signature: standard | both`).

Every signature the actions service makes is checked here by a verifier written from
the specification (standardwebhooks.com, spec/standard-webhooks.md), not by the
service's own code: `{id}.{timestamp}.{body}` signed with HMAC-SHA256, keyed with the
base64-decoded part of a `whsec_` secret, sent as space-separated `v1,<base64>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relais_actions.adapters.webhook import (
    Endpoint,
    signed_headers,
    standard_signature,
)
from relais_actions.bootstrap import resolve_endpoints
from relais_actions.domain import delivery
from relais_actions.domain.policy import Execute, decide, source_of_resolution
from relais_contracts.webhooks import SIGNATURE_HEADER, SignatureError, verify_signature
from relais_runtime.merchants import MerchantConfigError, merchants_of, parse_merchant
from relais_runtime.merchants.actions import SignatureScheme, standard_webhook_key
from relais_runtime.settings import ConfigurationError
from tests.conftest import REPO_ROOT
from tests.unit.actions.factories import (
    actions_section,
    anomaly_detected,
    eur,
    merchant,
    merchant_data,
    resolution_chosen,
    write_merchant,
)

# The specification's published test vector (also in its reference libraries' tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

CURRENT = "whsec_" + base64.b64encode(b"current-secret-of-32-bytes-long!").decode()
PREVIOUS = "whsec_" + base64.b64encode(b"previous-secret-24-bytes").decode()
TOLERANCE_S = 300


def spec_verify(secret: str, headers: dict[str, str], body: bytes, *, now: float) -> bool:
    """A Standard Webhooks receiver, from the specification alone."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp = lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError:
        return False
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_S:
        return False
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    content = message_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


def action_body() -> bytes:
    anomaly = anomaly_detected(merchant_id="shop-a", shipment_id="shp-sw", order_value=eur("9"))
    source = source_of_resolution(resolution_chosen(anomaly), shipment=anomaly.shipment)
    assert source is not None
    decision = decide(source, config=merchant("shop-a", actions=actions_section()).actions)
    assert isinstance(decision, Execute)
    return delivery.webhook_request(decision.command).model_dump_json().encode()


def endpoint(scheme: SignatureScheme, *secrets: str) -> Endpoint:
    return Endpoint(
        url="https://shop.example/hooks",
        secrets=tuple(secret.encode() for secret in secrets),
        timeout_s=5,
        signature=scheme,
    )


def test_the_specification_test_vector() -> None:
    signature = standard_signature(
        [VECTOR_SECRET.encode()], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY
    )
    assert signature == VECTOR_SIGNATURE
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": signature,
    }
    assert spec_verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_a_standard_action_call_verifies_with_an_independent_implementation() -> None:
    body = action_body()
    now = int(time.time())
    headers = signed_headers(
        endpoint=endpoint(SignatureScheme.STANDARD, CURRENT),
        body=body,
        idempotency_key="9b3c1f0e-0000-4000-8000-000000000001",
        timestamp=now,
    )
    assert headers["webhook-id"] == headers["Idempotency-Key"], "the id is stable across retries"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"].startswith("v1,")
    assert SIGNATURE_HEADER not in headers, "standard alone sends no Relais-Signature"
    assert spec_verify(CURRENT, headers, body, now=now)

    assert not spec_verify(CURRENT, headers, body + b" ", now=now), "tampered body"
    assert not spec_verify(PREVIOUS, headers, body, now=now), "wrong secret"
    assert not spec_verify(CURRENT, headers, body, now=now + 3600), "replayed an hour later"
    forged_id = {**headers, "webhook-id": "another-action"}
    assert not spec_verify(CURRENT, forged_id, body, now=now), "the id is signed"


def test_during_a_rotation_each_secret_signs_and_one_match_is_enough() -> None:
    body = action_body()
    now = int(time.time())
    headers = signed_headers(
        endpoint=endpoint(SignatureScheme.STANDARD, CURRENT, PREVIOUS),
        body=body,
        idempotency_key="k-1",
        timestamp=now,
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert spec_verify(CURRENT, headers, body, now=now)
    assert spec_verify(PREVIOUS, headers, body, now=now)


def test_both_sends_both_schemes_and_relais_stays_the_default() -> None:
    body = action_body()
    now = int(time.time())
    both = signed_headers(
        endpoint=endpoint(SignatureScheme.BOTH, CURRENT),
        body=body,
        idempotency_key="k-2",
        timestamp=now,
    )
    assert spec_verify(CURRENT, both, body, now=now)
    moment = verify_signature(CURRENT.encode(), both[SIGNATURE_HEADER], body, _utc(now))
    assert moment == now, "the Relais signature is keyed with the secret's UTF-8 bytes"

    default = Endpoint(url="https://shop.example", secrets=(b"plain-secret",), timeout_s=5)
    assert default.signature is SignatureScheme.RELAIS
    relais = signed_headers(endpoint=default, body=body, idempotency_key="k-3", timestamp=now)
    assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & relais.keys()
    assert verify_signature(b"plain-secret", relais[SIGNATURE_HEADER], body, _utc(now)) == now
    with pytest.raises(SignatureError):
        verify_signature(b"other", relais[SIGNATURE_HEADER], body, _utc(now))


def test_the_standardwebhooks_library_verifies_our_calls() -> None:
    """Only when the reference Python library happens to be installed (not a dependency)."""
    standardwebhooks = pytest.importorskip("standardwebhooks")
    body = action_body()
    headers = signed_headers(
        endpoint=endpoint(SignatureScheme.STANDARD, CURRENT),
        body=body,
        idempotency_key="k-4",
        timestamp=int(time.time()),
    )
    standardwebhooks.Webhook(CURRENT).verify(body, headers)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("plain-text-secret-without-prefix", "starting with whsec_"),
        ("whsec_not base64!", "not base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "not 5"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "not 65"),
    ],
)
def test_a_standard_secret_is_whsec_and_base64_of_24_to_64_bytes(secret: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        standard_webhook_key(secret)
    assert secret not in str(caught.value), "the secret is never in a message"
    with pytest.raises(ValueError, match=reason):
        endpoint(SignatureScheme.STANDARD, secret)
    assert len(standard_webhook_key(CURRENT)) == 32
    assert endpoint(SignatureScheme.RELAIS, secret).secrets == (secret.encode(),)


def with_signature(signature: str) -> dict[str, object]:
    section = actions_section(secret_env="SHOP_A_SECRET")
    webhook = section["webhook"]
    assert isinstance(webhook, dict)
    return {**section, "webhook": {**webhook, "signature": signature}}


def test_the_merchant_option_is_validated_and_checked_at_start_up(tmp_path: Path) -> None:
    section = with_signature("standard")
    config = parse_merchant(tmp_path / "shop-a.yaml", merchant_data("shop-a", actions=section))
    assert config.actions is not None
    assert config.actions.webhook.signature is SignatureScheme.STANDARD
    default = merchant("shop-b", actions=actions_section()).actions
    assert default is not None
    assert default.webhook.signature is SignatureScheme.RELAIS

    wrong = merchant_data("shop-a", actions=with_signature("jwt"))
    with pytest.raises(MerchantConfigError, match=r"actions\.webhook\.signature"):
        parse_merchant(tmp_path / "shop-a.yaml", wrong)

    write_merchant(tmp_path, "shop-a", actions=section)
    merchants = merchants_of(tmp_path)
    with pytest.raises(ConfigurationError) as caught:
        resolve_endpoints(merchants, directory=tmp_path, environ={"SHOP_A_SECRET": "not-whsec"})
    assert str(caught.value) == (
        f"{tmp_path / 'shop-a.yaml'}: actions.webhook.secret: "
        "a standard signature needs a secret starting with whsec_"
    )
    endpoints = resolve_endpoints(merchants, directory=tmp_path, environ={"SHOP_A_SECRET": CURRENT})
    assert endpoints["shop-a"].signature is SignatureScheme.STANDARD
    assert CURRENT not in repr(endpoints["shop-a"])


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def test_the_documented_recipe_verifies_our_calls() -> None:
    doc = (Path(REPO_ROOT) / "docs" / "webhooks.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- snippet: standard-python -->\n```python\n(.*?)```", doc, re.S)
    assert match, "docs/webhooks.md has no standard-python snippet"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), "docs/webhooks.md", "exec"), namespace)  # noqa: S102 (our doc)
    verify = namespace["verify_standard_webhook"]

    body = action_body()
    headers = signed_headers(
        endpoint=endpoint(SignatureScheme.STANDARD, CURRENT, PREVIOUS),
        body=body,
        idempotency_key="k-5",
        timestamp=int(time.time()),
    )
    assert verify(CURRENT, headers, body) is True
    assert verify(PREVIOUS, headers, body) is True
    assert verify(CURRENT, headers, body + b"x") is False
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    assert verify(CURRENT, stale, body) is False
    vector = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert verify(VECTOR_SECRET, vector, VECTOR_BODY) is False, "the timestamp is signed"
