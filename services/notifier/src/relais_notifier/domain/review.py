"""Review mode (pure): which messages wait for an agent, and what a decision does.

Rules:
- only an anomaly's messages (first message and escalation reminders) can be held, and
  only when the merchant binds that anomaly type with `delivery: review`; a trigger the
  merchant does not bind is never held (it is suppressed as before);
- one review per (trigger, purpose), whatever the channels: `ids.review_id`;
- a review leaves `held` once: "send" -> sent (its messages go through the policy like
  any other), "dismiss" -> dismissed, the anomaly's resolution -> withdrawn; a decision
  on a review that is no longer held changes nothing (a redelivered or late command).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeGuard
from uuid import UUID

from relais_contracts.ids import review_id
from relais_contracts.topics.notification_commands import ReviewDecision
from relais_contracts.topics.notifications import (
    NotificationHeldForReview,
    NotificationTrigger,
    SuppressionReason,
    TriggerKind,
)
from relais_notifier.domain.triggers import MessageRequest, TriggerDisabled
from relais_runtime.merchants.notification import NotificationSettings

REVIEWABLE_TRIGGERS = frozenset({TriggerKind.ANOMALY, TriggerKind.ANOMALY_ESCALATION})


class ReviewStatus(StrEnum):
    HELD = "held"
    SENT = "sent"
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class HeldReview:
    """A planned message waiting for an agent; the request is replanned when released."""

    review_id: UUID
    merchant_id: str
    shipment_id: str
    correlation_id: str
    request: MessageRequest
    held_at: datetime
    status: ReviewStatus = ReviewStatus.HELD


def needs_review(
    request: MessageRequest | TriggerDisabled, settings: NotificationSettings
) -> TypeGuard[MessageRequest]:
    """True when this request must wait in the merchant's review queue."""
    if isinstance(request, TriggerDisabled):
        return False
    return request.trigger.kind in REVIEWABLE_TRIGGERS and settings.reviewed(request.trigger.name)


def hold(
    request: MessageRequest,
    *,
    merchant_id: str,
    shipment_id: str,
    correlation_id: str,
    now: datetime,
) -> HeldReview:
    return HeldReview(
        review_id=review_id(request.trigger.ref_id, request.purpose),
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        correlation_id=correlation_id,
        request=request,
        held_at=now,
    )


def status_after(current: ReviewStatus, decision: ReviewDecision) -> ReviewStatus | None:
    """The status a decision moves a review to; None when it is no longer held."""
    if current is not ReviewStatus.HELD:
        return None
    return ReviewStatus.SENT if decision is ReviewDecision.SEND else ReviewStatus.DISMISSED


SUPPRESSION_OF = {
    ReviewStatus.DISMISSED: SuppressionReason.DISMISSED_BY_MERCHANT,
    ReviewStatus.WITHDRAWN: SuppressionReason.STALE,
}
"""How the messages of a review that ends without sending are recorded."""


def held_event(review: HeldReview) -> NotificationHeldForReview:
    request = review.request
    trigger = request.trigger
    return NotificationHeldForReview(
        occurred_at=review.held_at,
        merchant_id=review.merchant_id,
        correlation_id=review.correlation_id,
        shipment_id=review.shipment_id,
        review_id=review.review_id,
        trigger=NotificationTrigger(
            kind=trigger.kind,
            ref_id=trigger.ref_id,
            name=trigger.name,
            source_event_id=trigger.source_event_id,
        ),
        purpose=request.purpose,
        template=request.template,
        channels=request.channels,
    )
