"""Claiming a due row: only a `pending` row whose time has come, or a `sending` row whose
lease expired, is ever taken, locked (SKIP LOCKED: one dispatcher per row), and marked
`sending` with a new lease before anything leaves."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from relais_notifier import repository
from relais_notifier.domain.outcomes import Notification, NotificationStatus
from relais_runtime.db import DbConnection


async def claim(connection: DbConnection, key: str, *, now: datetime) -> Notification | None:
    """The row locked for this transaction, or None when another dispatcher holds it or it
    is no longer due."""
    row = await repository.get_notification(connection, idempotency_key=key, lock=True)
    if row is None or not await _still_due(connection, row, now=now):
        return None
    return row


async def _still_due(connection: DbConnection, row: Notification, *, now: datetime) -> bool:
    if row.status == NotificationStatus.PENDING:
        return row.due_at <= now
    if row.status == NotificationStatus.SENDING:
        lease = await repository.get_lease_until(connection, idempotency_key=row.idempotency_key)
        return lease is not None and lease <= now
    return False


async def mark_sending(
    connection: DbConnection,
    row: Notification,
    *,
    now: datetime,
    lease: timedelta,
    customer_key: str | None,
    locale: str,
) -> Notification:
    """Count the attempt and hold the row for `lease`: past it, a send left unrecorded
    (a crash) is taken again."""
    claimed = replace(row, attempts=row.attempts + 1, locale=locale)
    await repository.update_notification(
        connection,
        idempotency_key=row.idempotency_key,
        status=NotificationStatus.SENDING,
        attempts=claimed.attempts,
        claimed_at=now,
        lease_until=now + lease,
        customer_key=customer_key,
        locale=claimed.locale,
    )
    return claimed
