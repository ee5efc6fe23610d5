"""What a back-office campaign is asked for, and how its progress is counted (pure).

Rules:
- a selection is either the orders list's filters (the same ShipmentQuery, without a
  cursor or a page size: every matching shipment, not one page) or explicit shipment
  ids (1 to MAX_EXPLICIT, of the merchant: unknown ones are left out, never an error
  that would tell another merchant's ids apart);
- the content is the contract's (relais.notification-commands.v1): the scenario of the
  shipment's open anomaly, or a broadcast in the merchant's words;
- progress counts one row per notifier message carrying the campaign id, by its latest
  outcome: a deferred message moves on to its final outcome, a final outcome is never
  replaced by a deferral (outcomes may arrive out of order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relais_contracts.envelope import Event
from relais_contracts.topics.notification_commands import CampaignContent
from relais_contracts.topics.notifications import (
    NotificationDeferred,
    NotificationFailed,
    NotificationSent,
    NotificationSuppressed,
)
from relais_insights.domain.order_filters import ShipmentQuery

MAX_EXPLICIT: Final = 1000
BATCH_SIZE: Final = 500
"""Shipments read, and commands written to the outbox, per statement."""


class CampaignOutcome(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


class CampaignSelection(BaseModel):
    """Exactly one of `filters` and `shipment_ids`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filters: dict[str, str] | None = Field(
        default=None,
        description="The orders list's filters (status, anomaly, carrier, country, region, "
        "ordered_from/to, shipped_from/to, told, resolved, q); {} is every shipment.",
    )
    shipment_ids: tuple[str, ...] | None = Field(
        default=None, min_length=1, max_length=MAX_EXPLICIT
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CampaignSelection:
        if (self.filters is None) == (self.shipment_ids is None):
            raise ValueError("give either filters or shipment_ids")
        if self.filters is not None:
            ShipmentQuery.model_validate(self.filters)
        return self

    def query(self) -> ShipmentQuery | None:
        """The filter's query without paging; None for explicit ids."""
        if self.filters is None:
            return None
        return ShipmentQuery.model_validate(
            {k: v for k, v in self.filters.items() if k not in ("cursor", "limit")}
        )


@dataclass(frozen=True)
class CampaignProgress:
    """Messages per outcome, and suppressions/deferrals/failures per reason."""

    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return self.sent + self.deferred + self.suppressed + self.failed


@dataclass(frozen=True)
class Campaign:
    campaign_id: UUID
    name: str
    content: CampaignContent
    selection: CampaignSelection
    requested: int
    created_by: str
    created_at: datetime
    progress: CampaignProgress = field(default_factory=CampaignProgress)


@dataclass(frozen=True)
class CampaignMessage:
    """One notifier message of a campaign, at its latest known outcome."""

    campaign_id: UUID
    idempotency_key: str
    shipment_id: str
    channel: str
    outcome: CampaignOutcome
    reason: str | None
    occurred_at: datetime


def campaign_message_of(event: Event) -> CampaignMessage | None:
    """The outcome of a campaign's message; None for any other event."""
    match event:
        case NotificationSent():
            outcome, reason = CampaignOutcome.SENT, None
        case NotificationDeferred():
            outcome, reason = CampaignOutcome.DEFERRED, event.reason.value
        case NotificationSuppressed():
            outcome, reason = CampaignOutcome.SUPPRESSED, event.reason.value
        case NotificationFailed():
            outcome, reason = CampaignOutcome.FAILED, event.reason.value
        case _:
            return None
    campaign_id = event.trigger.campaign_id
    if campaign_id is None:
        return None
    return CampaignMessage(
        campaign_id=campaign_id,
        idempotency_key=event.idempotency_key,
        shipment_id=event.shipment_id,
        channel=event.channel.value,
        outcome=outcome,
        reason=reason,
        occurred_at=event.occurred_at,
    )


def progress_of(rows: list[tuple[str, str | None, int]]) -> CampaignProgress:
    """From (outcome, reason, count) rows."""
    totals = dict.fromkeys(CampaignOutcome, 0)
    reasons: dict[str, int] = {}
    for outcome, reason, count in rows:
        totals[CampaignOutcome(outcome)] += count
        if reason:
            reasons[f"{outcome}:{reason}"] = reasons.get(f"{outcome}:{reason}", 0) + count
    return CampaignProgress(
        sent=totals[CampaignOutcome.SENT],
        deferred=totals[CampaignOutcome.DEFERRED],
        suppressed=totals[CampaignOutcome.SUPPRESSED],
        failed=totals[CampaignOutcome.FAILED],
        reasons=reasons,
    )
