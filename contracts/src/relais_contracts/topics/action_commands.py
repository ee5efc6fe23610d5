"""relais.action-commands.v1 (and its retry tiers): actions to carry out at the merchant.

Rules:
- a command, in the imperative: the actions service's policy step turns an allowed
  ResolutionChosen, CallbackRequested or automatic rule into ExecuteAction; its
  executor step performs it through the merchant's webhook;
- `action_id` = `ids.action_id(source id, action type)` is also the webhook's
  Idempotency-Key: the merchant sees one key once, however often it is consumed;
- keyed by `<merchant_id>/<shipment_id>`;
- a transient failure (5xx, timeout) re-publishes the command with `attempt + 1` and
  `not_before` set (exponential backoff with jitter) on the retry tier for that
  attempt (`retry_topic_for`): the main topic is never blocked by a slow merchant,
  and each tier holds messages of roughly equal delay, so waiting for the head of a
  tier's partition never delays a message that is due earlier;
- after the last attempt the command is dead-lettered and ActionFailed
  (retries_exhausted, escalated) is published.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from relais_contracts.actions import ActionRequest, ActionType
from relais_contracts.catalogue import AnomalyType
from relais_contracts.envelope import ShipmentEvent
from relais_contracts.registry import Service, Topic
from relais_contracts.shipment import ShipmentContext


class ExecuteAction(ShipmentEvent):
    """Carry out one action at the merchant. `occurred_at` is when it was decided."""

    event_type: Literal["ExecuteAction"] = "ExecuteAction"
    schema_version: Literal[1] = 1
    action_id: UUID
    request: ActionRequest
    automatic: bool = Field(description="Decided by merchant policy without asking the customer.")
    source_event_id: UUID = Field(
        description="The ResolutionChosen, CallbackRequested or AnomalyDetected it carries out."
    )
    anomaly_id: UUID | None = None
    anomaly_type: AnomalyType | None = None
    conversation_id: UUID | None = None
    shipment: ShipmentContext
    attempt: int = Field(default=1, ge=1, description="1 for the first try.")
    not_before: AwareDatetime | None = Field(
        default=None, description="Do not try before this time (set on retries)."
    )

    @property
    def action_type(self) -> ActionType:
        return self.request.action


def _topic(
    name: str, description: str, consumers: tuple[Service, ...] = (Service.ACTIONS,)
) -> Topic:
    return Topic(
        name=name,
        description=description,
        key="`<merchant_id>/<shipment_id>`",
        message_types=(ExecuteAction,),
        producers=(Service.ACTIONS,),
        consumers=consumers,
        partitions=6,
        retention_ms=7 * 24 * 3600 * 1000,
    )


TOPIC = _topic(
    "relais.action-commands.v1", __doc__ or "", consumers=(Service.ACTIONS, Service.INSIGHTS)
)

RETRY_TIERS: Final[tuple[tuple[Topic, timedelta], ...]] = (
    (
        _topic(
            "relais.action-commands.retry-30s.v1",
            "Retry tier for ExecuteAction, second attempt: about 30 s after the first.",
        ),
        timedelta(seconds=30),
    ),
    (
        _topic(
            "relais.action-commands.retry-5m.v1",
            "Retry tier for ExecuteAction, third attempt: about 5 min after the second.",
        ),
        timedelta(minutes=5),
    ),
    (
        _topic(
            "relais.action-commands.retry-30m.v1",
            "Retry tier for ExecuteAction, fourth attempt and later: about 30 min apart.",
        ),
        timedelta(minutes=30),
    ),
)
"""(topic, base delay) per retry attempt; the delay gets up to 20 % jitter."""

RETRY_TOPICS: Final = tuple(topic for topic, _ in RETRY_TIERS)


def retry_topic_for(attempt: int) -> tuple[Topic, timedelta]:
    """The tier and base delay for attempt number `attempt` (2 or more)."""
    if attempt < 2:
        raise ValueError("the first attempt goes to the main topic")
    return RETRY_TIERS[min(attempt - 2, len(RETRY_TIERS) - 1)]
