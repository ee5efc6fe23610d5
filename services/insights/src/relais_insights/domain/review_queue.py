"""The review queue (pure): what each event does to it, and how long an item waited.

Rules:
- NotificationHeldForReview puts a review in the queue (held);
- any outcome of one of its messages (the notifier's NotificationSent, Deferred,
  Failed or Suppressed, matched by `ids.review_id(trigger id, purpose)`) closes it:
  suppressed `dismissed_by_merchant` -> dismissed, `stale` -> withdrawn, else sent;
- an AnomalyResolved withdraws the anomaly's held reviews (the notifier does the same);
- an item is over the merchant's limit once it waited longer than
  `notification.review_alert_after`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from relais_contracts.envelope import Event
from relais_contracts.ids import notification_purpose, review_id
from relais_contracts.topics.anomalies import AnomalyResolved
from relais_contracts.topics.notifications import (
    NotificationDeferred,
    NotificationFailed,
    NotificationHeldForReview,
    NotificationSent,
    NotificationSuppressed,
    SuppressionReason,
    TriggerKind,
)

REVIEWED_TRIGGERS = frozenset({TriggerKind.ANOMALY, TriggerKind.ANOMALY_ESCALATION})


class ReviewState(StrEnum):
    HELD = "held"
    SENT = "sent"
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class QueuedReview:
    review_id: UUID
    shipment_id: str
    anomaly_id: UUID
    anomaly_type: str
    purpose: str
    template: str | None
    channels: tuple[str, ...]
    held_at: datetime


@dataclass(frozen=True)
class Close:
    review_id: UUID
    state: ReviewState


@dataclass(frozen=True)
class Withdraw:
    anomaly_id: UUID


QueueChange = QueuedReview | Close | Withdraw

Outcome = NotificationSent | NotificationDeferred | NotificationFailed | NotificationSuppressed


def change_of(event: Event) -> QueueChange | None:
    """What `event` does to the queue; None for anything else."""
    match event:
        case NotificationHeldForReview():
            return QueuedReview(
                review_id=event.review_id,
                shipment_id=event.shipment_id,
                anomaly_id=event.trigger.ref_id,
                anomaly_type=event.trigger.name,
                purpose=event.purpose,
                template=event.template,
                channels=tuple(channel.value for channel in event.channels),
                held_at=event.occurred_at,
            )
        case (
            NotificationSent()
            | NotificationDeferred()
            | NotificationFailed()
            | (NotificationSuppressed())
        ) if event.trigger.kind in REVIEWED_TRIGGERS:
            return _closed_by(event)
        case AnomalyResolved():
            return Withdraw(anomaly_id=event.anomaly_id)
        case _:
            return None


def _closed_by(event: Outcome) -> Close:
    purpose = notification_purpose(event.idempotency_key)
    state = ReviewState.SENT
    if isinstance(event, NotificationSuppressed):
        if event.reason is SuppressionReason.DISMISSED_BY_MERCHANT:
            state = ReviewState.DISMISSED
        elif event.reason is SuppressionReason.STALE:
            state = ReviewState.WITHDRAWN
    return Close(review_id=review_id(event.trigger.ref_id, purpose), state=state)


def waited(held_at: datetime, now: datetime) -> timedelta:
    return max(now - held_at, timedelta(0))


def over_limit(held_at: datetime, now: datetime, limit: timedelta) -> bool:
    return waited(held_at, now) > limit
