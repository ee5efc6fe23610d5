"""relais.action-results.v1: how each action ended, once.

Rules:
- exactly one result per `action_id`: ActionCompleted, or ActionFailed (refused by
  policy, rejected by the merchant, or given up after its retries); attempts in
  between stay in the actions service's own tables;
- the notifier confirms a completed action to the customer, the detector resolves
  the anomaly (action_completed), the chat shows the outcome;
- keyed by `<merchant_id>/<shipment_id>`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from relais_contracts.actions import ActionType
from relais_contracts.catalogue import AnomalyType
from relais_contracts.common import Money
from relais_contracts.envelope import OrderId, ShipmentEvent
from relais_contracts.privacy import PERSONAL
from relais_contracts.registry import Service, Topic
from relais_contracts.text import OptionalNeutralizedLine, OptionalSingleLine, SingleLine


class _ActionResult(ShipmentEvent):
    action_id: UUID
    action: ActionType
    order_id: OrderId
    order_number: SingleLine = Field(min_length=1, max_length=64)
    automatic: bool
    anomaly_id: UUID | None = None
    anomaly_type: AnomalyType | None = None
    conversation_id: UUID | None = None
    attempts: int = Field(ge=0, description="Webhook calls made (0 when refused by policy).")


class ActionCompleted(_ActionResult):
    """The merchant confirmed the action is done. `occurred_at` is when it confirmed."""

    event_type: Literal["ActionCompleted"] = "ActionCompleted"
    schema_version: Literal[1] = 1
    merchant_reference: OptionalSingleLine = Field(
        default=None, max_length=128, description="The merchant's id (refund, ticket, parcel)."
    )
    amount: Money | None = Field(default=None, description="Refunded or credited amount.")
    voucher_code: OptionalSingleLine = Field(
        default=None,
        max_length=64,
        description="Store credit code to give the customer.",
        json_schema_extra=PERSONAL,
    )


class ActionFailureReason(StrEnum):
    NOT_ALLOWED = "not_allowed"
    """The merchant's policy does not allow this action (never attempted)."""
    INVALID_REQUEST = "invalid_request"
    MERCHANT_REJECTED = "merchant_rejected"
    """The merchant answered 4xx or status rejected: not retried."""
    RETRIES_EXHAUSTED = "retries_exhausted"
    EXPIRED = "expired"
    """The anomaly was resolved or the order cancelled before the action could run."""


class ActionFailed(_ActionResult):
    """The action will not happen (automatically)."""

    event_type: Literal["ActionFailed"] = "ActionFailed"
    schema_version: Literal[1] = 1
    reason: ActionFailureReason
    http_status: int | None = Field(default=None, ge=100, le=599)
    detail: OptionalNeutralizedLine = Field(
        default=None, max_length=500, description="Never contains personal data."
    )
    escalated: bool = Field(description="Handed to a human (callback ticket, back office).")


ActionResult = ActionCompleted | ActionFailed

TOPIC = Topic(
    name="relais.action-results.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<shipment_id>`",
    message_types=(ActionCompleted, ActionFailed),
    producers=(Service.ACTIONS,),
    consumers=(Service.NOTIFIER, Service.DETECTOR, Service.CHAT, Service.INSIGHTS),
    partitions=6,
    retention_ms=30 * 24 * 3600 * 1000,
)
