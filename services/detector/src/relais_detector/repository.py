"""The detector's SQL, on its own schema.

Verbs: get, get_or_create, create, update, delete, list; keyword arguments only.

Locking rule: every write to a shipment's rows (its facts, anomalies and timers)
happens while holding that shipment's row lock (`get_shipment(lock=...)`), taken by
the consumer (waiting) or by the sweeper (skipping a busy shipment). The sweeper
claims due timers with `FOR UPDATE SKIP LOCKED`, so several detector instances
never claim the same timer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from relais_contracts.catalogue import AnomalyType, Milestone, ResolutionReason, Severity
from relais_detector.domain import AnomalyRecord, Memory, ShipmentFacts, Timer
from relais_runtime.db import DbConnection


class Lock(StrEnum):
    NONE = "none"
    WAIT = "wait"
    """Wait for the lock (consumers)."""
    SKIP = "skip"
    """Skip a row another transaction holds (the sweeper)."""


_SELECT_SHIPMENT_SQL = (
    "SELECT facts, milestones FROM shipments WHERE merchant_id = $1 AND shipment_id = $2"
)
_SELECT_SHIPMENT = {
    Lock.NONE: _SELECT_SHIPMENT_SQL,
    Lock.WAIT: _SELECT_SHIPMENT_SQL + " FOR UPDATE",
    Lock.SKIP: _SELECT_SHIPMENT_SQL + " FOR UPDATE SKIP LOCKED",
}


@dataclass(frozen=True)
class StoredShipment:
    facts: ShipmentFacts
    milestones: frozenset[Milestone]


@dataclass(frozen=True)
class DueTimer:
    merchant_id: str
    shipment_id: str
    timer_key: str
    due_at: datetime


async def get_shipment(
    connection: DbConnection, *, merchant_id: str, shipment_id: str, lock: Lock = Lock.NONE
) -> StoredShipment | None:
    """None when absent, or (with Lock.SKIP) when another transaction holds it."""
    row = await connection.fetchrow(
        _SELECT_SHIPMENT[lock],
        merchant_id,
        shipment_id,
    )
    if row is None:
        return None
    return StoredShipment(
        facts=ShipmentFacts.model_validate_json(row["facts"]),
        milestones=frozenset(Milestone(m) for m in row["milestones"]),
    )


async def create_shipment(connection: DbConnection, *, facts: ShipmentFacts) -> bool:
    """Insert the shipment, locked by this transaction; False if it already exists."""
    created = await connection.fetchval(
        "INSERT INTO shipments (merchant_id, shipment_id, version, facts)"
        " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING RETURNING true",
        facts.merchant_id,
        facts.shipment_id,
        facts.version,
        facts.model_dump_json(),
    )
    return bool(created)


async def update_shipment(
    connection: DbConnection, *, facts: ShipmentFacts, milestones: frozenset[Milestone]
) -> None:
    await connection.execute(
        "UPDATE shipments SET version = $3, facts = $4::jsonb, milestones = $5, updated_at = now()"
        " WHERE merchant_id = $1 AND shipment_id = $2",
        facts.merchant_id,
        facts.shipment_id,
        facts.version,
        facts.model_dump_json(),
        sorted(milestone.value for milestone in milestones),
    )


async def get_memory(
    connection: DbConnection,
    *,
    merchant_id: str,
    shipment_id: str,
    milestones: frozenset[Milestone],
) -> Memory:
    """The latest occurrence of each anomaly type of the shipment."""
    rows = await connection.fetch(
        "SELECT DISTINCT ON (anomaly_type) * FROM anomalies"
        " WHERE merchant_id = $1 AND shipment_id = $2 ORDER BY anomaly_type, occurrence DESC",
        merchant_id,
        shipment_id,
    )
    records = {
        AnomalyType(row["anomaly_type"]): AnomalyRecord(
            anomaly_type=AnomalyType(row["anomaly_type"]),
            anomaly_id=row["anomaly_id"],
            occurrence=row["occurrence"],
            episode=row["episode"],
            severity=Severity(row["severity"]),
            level=row["level"],
            opened_at=row["opened_at"],
            escalated_at=row["escalated_at"],
            resolution=ResolutionReason(row["resolution"]) if row["resolution"] else None,
            resolved_at=row["resolved_at"],
        )
        for row in rows
    }
    return Memory(anomalies=records, milestones=milestones)


async def update_anomalies(
    connection: DbConnection,
    *,
    merchant_id: str,
    shipment_id: str,
    records: Sequence[AnomalyRecord],
) -> None:
    """Insert new occurrences and update changed ones. The primary key (shipment, type,
    occurrence) and the unique anomaly id make a second opening impossible."""
    await connection.executemany(
        """INSERT INTO anomalies (merchant_id, shipment_id, anomaly_type, occurrence, anomaly_id,
               episode, severity, level, opened_at, escalated_at, resolution, resolved_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (merchant_id, shipment_id, anomaly_type, occurrence) DO UPDATE SET
               episode = EXCLUDED.episode, severity = EXCLUDED.severity, level = EXCLUDED.level,
               escalated_at = EXCLUDED.escalated_at, resolution = EXCLUDED.resolution,
               resolved_at = EXCLUDED.resolved_at""",
        [
            (
                merchant_id,
                shipment_id,
                record.anomaly_type.value,
                record.occurrence,
                record.anomaly_id,
                record.episode,
                record.severity.value,
                record.level,
                record.opened_at,
                record.escalated_at,
                record.resolution.value if record.resolution else None,
                record.resolved_at,
            )
            for record in records
        ],
    )


async def get_anomaly_shipment(
    connection: DbConnection, *, merchant_id: str, anomaly_id: UUID
) -> str | None:
    """The shipment an anomaly belongs to, scoped by merchant."""
    shipment_id: str | None = await connection.fetchval(
        "SELECT shipment_id FROM anomalies WHERE merchant_id = $1 AND anomaly_id = $2",
        merchant_id,
        anomaly_id,
    )
    return shipment_id


async def update_timers(
    connection: DbConnection, *, merchant_id: str, shipment_id: str, timers: Sequence[Timer]
) -> None:
    """Make the shipment's stored timers exactly `timers`: move, add, cancel."""
    await connection.execute(
        "DELETE FROM timers WHERE merchant_id = $1 AND shipment_id = $2"
        " AND NOT (timer_key = ANY($3::text[]))",
        merchant_id,
        shipment_id,
        [timer.key for timer in timers],
    )
    if not timers:
        return
    await connection.executemany(
        """INSERT INTO timers (merchant_id, shipment_id, timer_key, kind, due_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (merchant_id, shipment_id, timer_key) DO UPDATE
               SET kind = EXCLUDED.kind, due_at = EXCLUDED.due_at
               WHERE timers.due_at IS DISTINCT FROM EXCLUDED.due_at""",
        [(merchant_id, shipment_id, t.key, t.kind.value, t.due_at) for t in timers],
    )


CLAIM_DUE_TIMERS = (
    "SELECT merchant_id, shipment_id, timer_key, due_at FROM timers"
    " WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED"
)
"""An indexed range scan on due_at: its cost depends on the due timers, not on the
idle ones (the benchmark shows its plan)."""


async def list_due_timers(connection: DbConnection, *, now: datetime, limit: int) -> list[DueTimer]:
    """Claim up to `limit` due timers, earliest first, skipping those another
    transaction holds; the claim lasts until the caller's transaction ends."""
    rows = await connection.fetch(CLAIM_DUE_TIMERS, now, limit)
    return [DueTimer(r["merchant_id"], r["shipment_id"], r["timer_key"], r["due_at"]) for r in rows]


async def update_timer_due(
    connection: DbConnection, *, merchant_id: str, shipment_id: str, due_at: datetime
) -> None:
    """Postpone a shipment's due timers (after a failed evaluation)."""
    await connection.execute(
        "UPDATE timers SET due_at = $3 WHERE merchant_id = $1 AND shipment_id = $2 AND due_at < $3",
        merchant_id,
        shipment_id,
        due_at,
    )


async def delete_shipment(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    await connection.execute(
        "DELETE FROM shipments WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )
