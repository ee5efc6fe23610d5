"""Recording outcomes: a message's new status and the event announcing it are written in
the caller's transaction, the event through the outbox, so neither exists without the
other. Every event published is counted (channel, outcome, reason)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from relais_contracts.topics import notifications
from relais_contracts.topics.notifications import (
    Channel,
    DeferralReason,
    FailureReason,
    NotificationDeferred,
    NotificationEvent,
    NotificationFailed,
    NotificationSent,
    NotificationSuppressed,
    SuppressionReason,
)
from relais_notifier import repository
from relais_notifier.adapters.channels import Receipt
from relais_notifier.domain.outcomes import (
    Notification,
    NotificationStatus,
    deferred_event,
    failed_event,
    moved_to,
    sent_event,
    suppressed_event,
)
from relais_notifier.domain.sent_copy import email_copy, sms_copy
from relais_notifier.service.composing import Outgoing
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger
from relais_runtime.metrics import NOTIFICATION_OUTCOMES
from relais_runtime.outbox import enqueue

log = get_logger(__name__)


def _reason_label(event: NotificationEvent) -> str:
    match event:
        case NotificationSent():
            return ""
        case NotificationDeferred() | NotificationSuppressed() | NotificationFailed():
            return str(event.reason.value)


async def publish(connection: DbConnection, *, events: Sequence[NotificationEvent]) -> None:
    """Outcome events go out through the outbox, in the caller's transaction."""
    await enqueue(connection, topic=notifications.TOPIC, events=events)
    for event in events:
        NOTIFICATION_OUTCOMES.labels(
            channel=event.channel.value,
            outcome=event.event_type.removeprefix("Notification").lower(),
            reason=_reason_label(event),
        ).inc()


async def record_outcome(
    connection: DbConnection, row: Notification, *, event: NotificationEvent, **changes: Any
) -> None:
    """The row's new columns and the event announcing them, in the caller's transaction."""
    await repository.update_notification(connection, idempotency_key=row.idempotency_key, **changes)
    await publish(connection, events=[event])


def sent_copy_of(outgoing: Outgoing) -> str:
    """The message as sent, links neutralised (domain.sent_copy), as the JSON of its
    `sent_copy` column."""
    if outgoing.sms is not None:
        return json.dumps(sms_copy(body=outgoing.sms.body))
    assert outgoing.email is not None
    html = outgoing.email.get_body(("html",))
    text = outgoing.email.get_body(("plain",))
    copy = email_copy(
        subject=str(outgoing.email["Subject"] or ""),
        html=str(html.get_content()) if html is not None else None,
        text=str(text.get_content()) if text is not None else None,
    )
    return json.dumps(copy)


class OutcomeRecorder:
    """The five ends of a decision or a send: sent, deferred, failed, suppressed, moved to
    the other channel. Events are dated on the clock when they are recorded."""

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock

    async def sent(
        self, connection: DbConnection, row: Notification, outgoing: Outgoing, receipt: Receipt
    ) -> None:
        now = self._clock.now()
        event = sent_event(
            row,
            now=now,
            provider=receipt.provider,
            provider_message_id=receipt.message_id,
            link_expires_at=outgoing.link_expires_at,
            sms_segments=receipt.segments or (outgoing.sms.segments if outgoing.sms else None),
        )
        await record_outcome(
            connection,
            row,
            event=event,
            status=NotificationStatus.SENT,
            sent_at=now,
            lease_until=None,
            provider=receipt.provider,
            provider_message_id=receipt.message_id,
            sent_copy=sent_copy_of(outgoing),
        )
        log.info("notification sent", channel=row.channel.value, template=row.template)

    async def defer(
        self,
        connection: DbConnection,
        row: Notification,
        *,
        until: datetime,
        reason: DeferralReason,
        detail: str | None = None,
    ) -> None:
        await record_outcome(
            connection,
            row,
            event=deferred_event(
                row, now=self._clock.now(), until=until, reason=reason, detail=detail
            ),
            status=NotificationStatus.PENDING,
            due_at=until,
            outcome_reason=reason.value,
        )
        log.info("notification deferred", channel=row.channel.value, reason=reason.value)

    async def fail(
        self,
        connection: DbConnection,
        row: Notification,
        *,
        reason: FailureReason,
        detail: str | None = None,
        status: str | None = None,
    ) -> None:
        await record_outcome(
            connection,
            row,
            event=failed_event(
                row, now=self._clock.now(), reason=reason, provider_status=status, detail=detail
            ),
            status=NotificationStatus.FAILED,
            outcome_reason=reason.value,
        )
        log.warning("notification failed", channel=row.channel.value, reason=reason.value)

    async def suppress(
        self,
        connection: DbConnection,
        row: Notification,
        *,
        now: datetime,
        reason: SuppressionReason,
        detail: str,
    ) -> None:
        await record_outcome(
            connection,
            row,
            event=suppressed_event(row, now=now, reason=reason, detail=detail),
            status=NotificationStatus.SUPPRESSED,
            outcome_reason=reason.value,
        )

    async def fall_back(
        self, connection: DbConnection, row: Notification, channel: Channel, *, now: datetime
    ) -> None:
        """The message moves to `channel` under that channel's key (once: a message already
        there covers it); this row ends suppressed (no_contact)."""
        moved = moved_to(row, channel, now=now)
        created = await repository.create_notification(connection, notification=moved)
        detail = (
            f"no {row.channel.value} contact: sent by {channel.value}"
            if created
            else f"no {row.channel.value} contact: the {channel.value} message covers it"
        )
        await self.suppress(
            connection, row, now=now, reason=SuppressionReason.NO_CONTACT, detail=detail
        )
        if created:
            await repository.wake_dispatcher(connection)
