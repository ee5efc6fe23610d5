"""The notifier's SQL, on its own schema.

Verbs: get, get_or_create, create, update, delete, list; keyword arguments only.
Contacts are the only personal data stored here, one row per shipment, replaced by
newer versions of the shipment state and deleted with it; opt-outs store a keyed
hash of the address (under the opt-out pepper, adapters.customer_hashes), never the
address.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from relais_contracts.topics.notifications import Channel, LinkKind, TriggerKind
from relais_notifier.domain.outcomes import Notification, NotificationStatus
from relais_notifier.domain.policy import Contact
from relais_notifier.domain.triggers import MessageFacts
from relais_runtime.db import DbConnection

WAKE_CHANNEL_PREFIX = "relais_notifier_due_"


async def update_contact(
    connection: DbConnection,
    *,
    merchant_id: str,
    shipment_id: str,
    version: int,
    contact: Contact,
) -> bool:
    """Store the shipment's contact unless a newer version is already held."""
    result: str = await connection.execute(
        """INSERT INTO contacts AS c (merchant_id, shipment_id, version, email, phone,
               first_name, customer_id, locale, time_zone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (merchant_id, shipment_id) DO UPDATE SET
               version = EXCLUDED.version, email = EXCLUDED.email, phone = EXCLUDED.phone,
               first_name = EXCLUDED.first_name, customer_id = EXCLUDED.customer_id,
               locale = EXCLUDED.locale, time_zone = EXCLUDED.time_zone, updated_at = now()
           WHERE c.version < EXCLUDED.version""",
        merchant_id,
        shipment_id,
        version,
        contact.email,
        contact.phone,
        contact.first_name,
        contact.customer_id,
        contact.locale,
        contact.time_zone,
    )
    return result.endswith(" 1")


async def get_contact(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> Contact | None:
    row = await connection.fetchrow(
        "SELECT email, phone, first_name, customer_id, locale, time_zone FROM contacts"
        " WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )
    return Contact(**dict(row)) if row else None


async def delete_contact(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    await connection.execute(
        "DELETE FROM contacts WHERE merchant_id = $1 AND shipment_id = $2", merchant_id, shipment_id
    )


async def update_notifications_erased(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> None:
    """An erased shipment's messages keep their trigger, channel, status and times, and
    lose what links them to the customer (`customer_key`, a hash of the address, and
    `sent_copy`, the message as the customer read it); one not sent yet never will be
    (suppressed, reason `erased`)."""
    await connection.execute(
        "UPDATE notifications SET customer_key = NULL, sent_copy = NULL,"
        " status = CASE WHEN status = 'pending' THEN 'suppressed' ELSE status END,"
        " outcome_reason = CASE WHEN status = 'pending' THEN 'erased' ELSE outcome_reason END,"
        " updated_at = now() WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )


_COLUMNS = (
    "idempotency_key, notification_id, merchant_id, shipment_id, correlation_id, channel,"
    " fallback_from, trigger_kind, trigger_ref, trigger_name, source_event_id, purpose,"
    " template, urgent, link_kind, link_subject, facts, status, planned_at, due_at,"
    " attempts, rounds, locale"
)


async def create_notification(connection: DbConnection, *, notification: Notification) -> bool:
    """Insert a send-log row; False if its idempotency key is already there."""
    n = notification
    created = await connection.fetchval(
        f"INSERT INTO notifications ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"  # noqa: S608
        " $10, $11, $12, $13, $14, $15, $16, $17::jsonb, $18, $19, $20, $21, $22, $23)"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING true",
        n.idempotency_key,
        n.notification_id,
        n.merchant_id,
        n.shipment_id,
        n.correlation_id,
        n.channel.value,
        n.fallback_from.value if n.fallback_from else None,
        n.trigger_kind.value,
        n.trigger_ref,
        n.trigger_name,
        n.source_event_id,
        n.purpose,
        n.template,
        n.urgent,
        n.link_kind.value if n.link_kind else None,
        n.link_subject,
        n.facts.model_dump_json() if n.facts else "{}",
        n.status,
        n.planned_at,
        n.due_at,
        n.attempts,
        n.rounds,
        n.locale,
    )
    return bool(created)


def _notification(row: asyncpg.Record) -> Notification:
    facts = json.loads(row["facts"]) if isinstance(row["facts"], str) else row["facts"]
    return Notification(
        idempotency_key=row["idempotency_key"],
        notification_id=row["notification_id"],
        merchant_id=row["merchant_id"],
        shipment_id=row["shipment_id"],
        correlation_id=row["correlation_id"],
        channel=Channel(row["channel"]),
        fallback_from=Channel(row["fallback_from"]) if row["fallback_from"] else None,
        trigger_kind=TriggerKind(row["trigger_kind"]),
        trigger_ref=row["trigger_ref"],
        trigger_name=row["trigger_name"],
        source_event_id=row["source_event_id"],
        purpose=row["purpose"],
        template=row["template"],
        urgent=row["urgent"],
        link_kind=LinkKind(row["link_kind"]) if row["link_kind"] else None,
        link_subject=row["link_subject"],
        facts=MessageFacts.model_validate(facts) if facts else None,
        status=NotificationStatus(row["status"]),
        planned_at=row["planned_at"],
        due_at=row["due_at"],
        attempts=row["attempts"],
        rounds=row["rounds"],
        locale=row["locale"],
    )


async def get_notification(
    connection: DbConnection, *, idempotency_key: str, lock: bool = False
) -> Notification | None:
    """With `lock`, the row is locked for this transaction, or None if another holds it."""
    suffix = " FOR UPDATE SKIP LOCKED" if lock else ""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM notifications WHERE idempotency_key = $1{suffix}",  # noqa: S608
        idempotency_key,
    )
    return _notification(row) if row else None


async def get_lease_until(connection: DbConnection, *, idempotency_key: str) -> datetime | None:
    """Until when the dispatcher that marked this row `sending` holds it (None: nobody)."""
    lease: datetime | None = await connection.fetchval(
        "SELECT lease_until FROM notifications WHERE idempotency_key = $1", idempotency_key
    )
    return lease


async def lock_customer(connection: DbConnection, *, customer_keys: Sequence[str]) -> None:
    """Serialise decisions about one customer until this transaction ends.

    Two messages to the same customer then cannot both pass the frequency cap. The keys
    are the customer's under the current pepper and each previous one, locked in one
    order: a process still on a previous pepper serialises on the key both share.
    """
    for customer_key in sorted(customer_keys):
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", customer_key)


@dataclass(frozen=True)
class Due:
    idempotency_key: str
    lane: str
    """The shipment (`<merchant>/<shipment>`): rows of one lane are dispatched in order."""


async def list_due(connection: DbConnection, *, now: datetime, limit: int) -> list[Due]:
    """Pending rows due by `now` and sends whose lease expired, earliest first (indexed
    scans)."""
    rows = await connection.fetch(
        """(SELECT idempotency_key, merchant_id, shipment_id, due_at AS at FROM notifications
             WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT $2)
           UNION ALL
           (SELECT idempotency_key, merchant_id, shipment_id, lease_until AS at
             FROM notifications
             WHERE status = 'sending' AND lease_until <= $1 ORDER BY lease_until LIMIT $2)
           ORDER BY at LIMIT $2""",
        now,
        limit,
    )
    return [
        Due(row["idempotency_key"], f"{row['merchant_id']}/{row['shipment_id']}") for row in rows
    ]


async def update_notification(
    connection: DbConnection, *, idempotency_key: str, **fields: Any
) -> None:
    """Set the given columns (names are code, never input)."""
    names = list(fields)
    assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(names, start=2))
    await connection.execute(
        f"UPDATE notifications SET {assignments}, updated_at = now()"  # noqa: S608
        " WHERE idempotency_key = $1",
        idempotency_key,
        *(fields[name] for name in names),
    )


async def mark_failed(connection: DbConnection, *, idempotency_key: str, reason: str) -> bool:
    """Last resort for a row that cannot be read: `failed` with its reason if still due
    (pending or sending), so it leaves the queue. True when the row was changed."""
    result: str = await connection.execute(
        "UPDATE notifications SET status = 'failed', outcome_reason = $2, lease_until = NULL,"
        " updated_at = now() WHERE idempotency_key = $1 AND status IN ('pending', 'sending')",
        idempotency_key,
        reason,
    )
    return result.split()[-1] != "0"


async def list_pending(
    connection: DbConnection,
    *,
    merchant_id: str,
    trigger_ref: Any | None = None,
    shipment_id: str | None = None,
    trigger_kind: TriggerKind | None = None,
) -> list[Notification]:
    """Pending rows of a trigger, or of a shipment (optionally of one kind), locked."""
    if trigger_ref is not None:
        rows = await connection.fetch(
            f"SELECT {_COLUMNS} FROM notifications"  # noqa: S608
            " WHERE merchant_id = $1 AND trigger_ref = $2 AND status = 'pending' FOR UPDATE",
            merchant_id,
            trigger_ref,
        )
    else:
        rows = await connection.fetch(
            f"SELECT {_COLUMNS} FROM notifications"  # noqa: S608
            " WHERE merchant_id = $1 AND shipment_id = $2 AND status = 'pending'"
            " AND ($3::text IS NULL OR trigger_kind = $3) FOR UPDATE",
            merchant_id,
            shipment_id,
            trigger_kind.value if trigger_kind else None,
        )
    return [_notification(row) for row in rows]


async def list_recent_sends(
    connection: DbConnection,
    *,
    merchant_id: str,
    customer_keys: Sequence[str],
    since: datetime,
    exclude_trigger: Any,
) -> list[datetime]:
    """When each other trigger was first sent to this customer (known by any of its
    keys: one per pepper) since `since`."""
    rows = await connection.fetch(
        """SELECT min(claimed_at) AS at FROM notifications
           WHERE merchant_id = $1 AND customer_key = ANY($2::text[])
             AND status IN ('sending', 'sent') AND claimed_at > $3 AND trigger_ref <> $4
           GROUP BY trigger_ref""",
        merchant_id,
        list(customer_keys),
        since,
        exclude_trigger,
    )
    return [row["at"] for row in rows]


async def create_opt_out(
    connection: DbConnection, *, merchant_id: str, channel: str, address_hash: str, at: datetime
) -> None:
    await connection.execute(
        "INSERT INTO opt_outs (merchant_id, channel, address_hash, created_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        merchant_id,
        channel,
        address_hash,
        at,
    )


@dataclass(frozen=True)
class OptOut:
    channel: str
    address_hash: str
    created_at: datetime


async def list_opt_outs(
    connection: DbConnection, *, merchant_id: str, hashes: Mapping[str, Sequence[str]]
) -> list[OptOut]:
    """The opt-outs recorded under any of `hashes` (channel -> the address's hashes)."""
    pairs = [(channel, value) for channel, values in hashes.items() for value in values]
    if not pairs:
        return []
    rows = await connection.fetch(
        "SELECT channel, address_hash, created_at FROM opt_outs WHERE merchant_id = $1"
        " AND (channel, address_hash) IN (SELECT * FROM unnest($2::text[], $3::text[]))",
        merchant_id,
        [channel for channel, _ in pairs],
        [value for _, value in pairs],
    )
    return [
        OptOut(
            channel=row["channel"], address_hash=row["address_hash"], created_at=row["created_at"]
        )
        for row in rows
    ]


async def get_wake_channel(connection: DbConnection) -> str:
    """The channel `wake_dispatcher` notifies for this connection's schema."""
    channel: str = await connection.fetchval("SELECT $1 || current_schema()", WAKE_CHANNEL_PREFIX)
    return channel


async def wake_dispatcher(connection: DbConnection) -> None:
    """Wake the dispatcher when this transaction commits (NOTIFY is transactional)."""
    await connection.execute("SELECT pg_notify($1 || current_schema(), '')", WAKE_CHANNEL_PREFIX)


async def latest_anomaly_messages(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> list[Notification]:
    """The first message of the shipment's latest notified anomaly, one row per channel
    it was planned on (fallback copies left out: the fallback rule makes them again)."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM notifications"  # noqa: S608
        " WHERE merchant_id = $1 AND shipment_id = $2 AND purpose = 'initial'"
        " AND trigger_kind = 'anomaly' AND template IS NOT NULL AND fallback_from IS NULL"
        " AND trigger_ref = (SELECT trigger_ref FROM notifications WHERE merchant_id = $1"
        "   AND shipment_id = $2 AND purpose = 'initial' AND trigger_kind = 'anomaly'"
        "   AND template IS NOT NULL ORDER BY planned_at DESC LIMIT 1)"
        " ORDER BY channel",
        merchant_id,
        shipment_id,
    )
    return [_notification(row) for row in rows]


async def find_notification(
    connection: DbConnection, *, merchant_id: str, notification_id: UUID
) -> Notification | None:
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM notifications"  # noqa: S608
        " WHERE merchant_id = $1 AND notification_id = $2",
        merchant_id,
        notification_id,
    )
    return _notification(row) if row else None


async def get_latest_facts(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> MessageFacts | None:
    """The facts of the newest message planned about the shipment that names its order
    (the notifier's own copy of the parcel; erased rows name none)."""
    facts = await connection.fetchval(
        "SELECT facts FROM notifications WHERE merchant_id = $1 AND shipment_id = $2"
        " AND template IS NOT NULL AND coalesce(facts->>'order_number', '') <> ''"
        " ORDER BY planned_at DESC LIMIT 1",
        merchant_id,
        shipment_id,
    )
    if facts is None:
        return None
    return MessageFacts.model_validate(json.loads(facts) if isinstance(facts, str) else facts)


@dataclass(frozen=True)
class SentCopy:
    channel: Channel
    sent_at: datetime | None
    parts: Mapping[str, str | None]


async def get_sent_copy(
    connection: DbConnection, *, merchant_id: str, notification_id: UUID
) -> SentCopy | None:
    """The merchant's sent message's copy; None when there is none (another merchant's,
    not sent, sent before copies were kept, or erased)."""
    row = await connection.fetchrow(
        "SELECT channel, sent_at, sent_copy FROM notifications"
        " WHERE merchant_id = $1 AND notification_id = $2 AND sent_copy IS NOT NULL",
        merchant_id,
        notification_id,
    )
    if row is None:
        return None
    parts = row["sent_copy"]
    return SentCopy(
        channel=Channel(row["channel"]),
        sent_at=row["sent_at"],
        parts=json.loads(parts) if isinstance(parts, str) else parts,
    )
