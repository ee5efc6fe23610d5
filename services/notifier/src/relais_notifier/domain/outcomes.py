"""One planned message and the outcome events its decisions publish (pure).

A message lives in the send log under its idempotency key. Its status moves
pending → sending → sent, or ends suppressed or failed; a deferral sets it back to
pending with a later due time. Each move is published as one outcome event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from relais_contracts.ids import notification_id, notification_key
from relais_contracts.topics.notifications import (
    Channel,
    DeferralReason,
    FailureReason,
    LinkKind,
    NotificationDeferred,
    NotificationFailed,
    NotificationSent,
    NotificationSuppressed,
    NotificationTrigger,
    SuppressionReason,
    TriggerKind,
)
from relais_notifier.domain.triggers import MessageFacts, MessageRequest, TriggerDisabled


class NotificationStatus(StrEnum):
    """Where a message is in the send log (the values are the `status` column's)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


@dataclass(frozen=True)
class Notification:
    idempotency_key: str
    notification_id: UUID
    merchant_id: str
    shipment_id: str
    correlation_id: str
    channel: Channel
    trigger_kind: TriggerKind
    trigger_ref: UUID
    trigger_name: str
    source_event_id: UUID
    purpose: str
    status: NotificationStatus
    planned_at: datetime
    due_at: datetime
    template: str | None = None
    urgent: bool = False
    link_kind: LinkKind | None = None
    link_subject: str | None = None
    facts: MessageFacts | None = None
    fallback_from: Channel | None = None
    attempts: int = 0
    rounds: int = 0
    locale: str | None = None


def plan(
    request: MessageRequest | TriggerDisabled,
    *,
    merchant_id: str,
    shipment_id: str,
    correlation_id: str,
    now: datetime,
) -> list[Notification]:
    """The send-log rows of a trigger: one per channel, pending and due now (or suppressed)."""
    trigger = request.trigger
    common: dict[str, Any] = {
        "merchant_id": merchant_id,
        "shipment_id": shipment_id,
        "correlation_id": correlation_id,
        "trigger_kind": trigger.kind,
        "trigger_ref": trigger.ref_id,
        "trigger_name": trigger.name,
        "source_event_id": trigger.source_event_id,
        "purpose": request.purpose,
        "planned_at": now,
        "due_at": now,
    }
    if isinstance(request, TriggerDisabled):
        key = notification_key(trigger.ref_id, request.channel.value, request.purpose)
        return [
            Notification(
                idempotency_key=key,
                notification_id=notification_id(key),
                channel=request.channel,
                status=NotificationStatus.SUPPRESSED,
                **common,
            )
        ]
    rows = []
    for channel in request.channels:
        key = notification_key(trigger.ref_id, channel.value, request.purpose)
        rows.append(
            Notification(
                idempotency_key=key,
                notification_id=notification_id(key),
                channel=channel,
                status=NotificationStatus.PENDING,
                template=request.template,
                urgent=request.urgent,
                link_kind=request.link_kind,
                link_subject=request.link_subject,
                facts=request.facts,
                **common,
            )
        )
    return rows


def moved_to(row: Notification, channel: Channel, *, now: datetime) -> Notification:
    """The same message on the other channel (fallback), under that channel's key."""
    key = notification_key(row.trigger_ref, channel.value, row.purpose)
    return Notification(
        **{
            **row.__dict__,
            "idempotency_key": key,
            "notification_id": notification_id(key),
            "channel": channel,
            "fallback_from": row.channel,
            "status": NotificationStatus.PENDING,
            "due_at": now,
            "attempts": 0,
            "rounds": 0,
        }
    )


def round_delay(*, rounds: int, first_s: float) -> timedelta:
    """Delay before durable retry round `rounds + 1`: doubles each round, at most 6 hours."""
    return timedelta(seconds=min(first_s * 2 ** max(rounds - 1, 0), 6 * 3600))


def _envelope(row: Notification, *, now: datetime, attempts: int | None = None) -> dict[str, Any]:
    return {
        "occurred_at": now,
        "merchant_id": row.merchant_id,
        "correlation_id": row.correlation_id,
        "shipment_id": row.shipment_id,
        "notification_id": row.notification_id,
        "idempotency_key": row.idempotency_key,
        "channel": row.channel,
        "trigger": NotificationTrigger(
            kind=row.trigger_kind,
            ref_id=row.trigger_ref,
            name=row.trigger_name,
            source_event_id=row.source_event_id,
            campaign_id=row.facts.campaign_id if row.facts else None,
        ),
        "template": row.template,
        "locale": row.locale,
        "attempts": row.attempts if attempts is None else attempts,
    }


def sent_event(
    row: Notification,
    *,
    now: datetime,
    provider: str,
    provider_message_id: str | None,
    link_expires_at: datetime | None,
    sms_segments: int | None,
) -> NotificationSent:
    return NotificationSent(
        **_envelope(row, now=now),
        provider=provider,
        provider_message_id=provider_message_id,
        link_kind=row.link_kind,
        link_expires_at=link_expires_at,
        sms_segments=sms_segments,
        fallback_from=row.fallback_from,
    )


def deferred_event(
    row: Notification,
    *,
    now: datetime,
    until: datetime,
    reason: DeferralReason,
    detail: str | None = None,
) -> NotificationDeferred:
    return NotificationDeferred(
        **_envelope(row, now=now), reason=reason, deliver_after=until, detail=detail
    )


def suppressed_event(
    row: Notification, *, now: datetime, reason: SuppressionReason, detail: str | None = None
) -> NotificationSuppressed:
    return NotificationSuppressed(**_envelope(row, now=now), reason=reason, detail=detail)


def failed_event(
    row: Notification,
    *,
    now: datetime,
    reason: FailureReason,
    provider_status: str | None = None,
    detail: str | None = None,
) -> NotificationFailed:
    return NotificationFailed(
        **_envelope(row, now=now),
        reason=reason,
        provider_status=provider_status,
        detail=detail,
    )
