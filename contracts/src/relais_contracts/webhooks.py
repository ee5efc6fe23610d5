"""The merchant action webhook: the body Relais POSTs, the answer it expects, the signature.

Rules:
- Relais POSTs `ActionWebhookRequest` as JSON to the merchant's action URL with
  the headers `Idempotency-Key: <action_id>` and
  `Relais-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`;
- the signature is HMAC-SHA256 with the merchant's secret over
  `<t>.<raw body bytes>`; during a secret rotation several `v1=` values may be sent
  and one match is enough;
- a receiver rejects a timestamp further than `SIGNATURE_TOLERANCE_S` from its clock
  (replay protection) and treats a repeated Idempotency-Key as the same request;
- the merchant answers 2xx with `ActionWebhookResponse` (`completed`, `accepted` for
  work that completes later, `rejected` with a message); 4xx is final, 5xx and
  timeouts are retried.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from relais_contracts.actions import ActionRequest
from relais_contracts.catalogue import AnomalyType
from relais_contracts.common import CarrierCode, Money, TrackingNumber
from relais_contracts.envelope import Contract, MerchantId, OrderId, ShipmentId
from relais_contracts.privacy import PERSONAL
from relais_contracts.text import OptionalNeutralizedLine, SingleLine

SIGNATURE_HEADER: Final = "Relais-Signature"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
SIGNATURE_SCHEME: Final = "v1"
SIGNATURE_TOLERANCE_S: Final = 300


class ActionWebhookRequest(Contract):
    """The body of one action request to the merchant."""

    webhook_version: Literal[1] = 1
    type: Literal["action.requested"] = "action.requested"
    action_id: UUID = Field(description="Equal to the Idempotency-Key header.")
    merchant_id: MerchantId
    requested_at: AwareDatetime
    attempt: int = Field(ge=1)
    automatic: bool
    action: ActionRequest
    order_id: OrderId
    order_number: SingleLine = Field(min_length=1, max_length=64)
    shipment_id: ShipmentId
    carrier: CarrierCode | None = None
    tracking_number: TrackingNumber | None = None
    anomaly_id: UUID | None = None
    anomaly_type: AnomalyType | None = None


class WebhookStatus(StrEnum):
    COMPLETED = "completed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ActionWebhookResponse(Contract):
    """What the merchant answers (2xx); unknown fields are ignored, and control
    characters in its texts are neutralized (relais_contracts.text), not refused: the
    action is done, and its answer must not be lost over a stray line break."""

    status: WebhookStatus
    reference: OptionalNeutralizedLine = Field(default=None, max_length=128)
    amount: Money | None = None
    voucher_code: OptionalNeutralizedLine = Field(
        default=None, max_length=64, json_schema_extra=PERSONAL
    )
    message: OptionalNeutralizedLine = Field(default=None, max_length=500)


class SignatureError(ValueError):
    """The signature header is missing, malformed, too old or does not match."""


def compute_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets: list[bytes], timestamp: int, body: bytes) -> str:
    """The header value; several secrets during a rotation."""
    parts = [f"t={timestamp}"]
    parts += [f"{SIGNATURE_SCHEME}={compute_signature(s, timestamp, body)}" for s in secrets]
    return ",".join(parts)


def verify_signature(
    secret: bytes,
    header: str,
    body: bytes,
    now: datetime,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> int:
    """Check a Relais-Signature header; return its timestamp or raise SignatureError."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SIGNATURE_SCHEME and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header")
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise SignatureError("signature timestamp outside the tolerance")
    expected = compute_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("signature does not match")
    return timestamp


WEBHOOK_MODELS: Final = (ActionWebhookRequest, ActionWebhookResponse)
