"""The chat's SQL, on its own schema.

Verbs: get, get_or_create, create, update, delete, list; keyword arguments only.
Every read is scoped by merchant_id: callers pass the merchant from the signed link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from relais_chat.domain.conversation import ConversationStatus
from relais_chat.domain.engine import Progress
from relais_contracts.topics.anomalies import AnomalyDetected
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.db import DbConnection


async def update_shipment(connection: DbConnection, *, state: ShipmentStateChanged) -> bool:
    """Keep the newest snapshot: an older or equal version changes nothing."""
    updated = await connection.fetchval(
        "INSERT INTO shipments (merchant_id, shipment_id, version, state)"
        " VALUES ($1, $2, $3, $4::jsonb)"
        " ON CONFLICT (merchant_id, shipment_id) DO UPDATE"
        " SET version = EXCLUDED.version, state = EXCLUDED.state, updated_at = now()"
        " WHERE shipments.version < EXCLUDED.version"
        " RETURNING true",
        state.merchant_id,
        state.shipment_id,
        state.version,
        state.model_dump_json(),
    )
    return bool(updated)


async def get_shipment(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> ShipmentStateChanged | None:
    raw = await connection.fetchval(
        "SELECT state FROM shipments WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )
    return None if raw is None else ShipmentStateChanged.model_validate_json(raw)


async def create_tracking_event(connection: DbConnection, *, event: TrackingEventRecorded) -> None:
    await connection.execute(
        "INSERT INTO tracking_events (merchant_id, event_id, shipment_id, occurred_at, event)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
        event.merchant_id,
        event.event_id,
        event.shipment_id,
        event.occurred_at,
        event.model_dump_json(),
    )


async def list_tracking_events(
    connection: DbConnection, *, merchant_id: str, shipment_id: str, limit: int = 50
) -> list[TrackingEventRecorded]:
    rows = await connection.fetch(
        "SELECT event FROM tracking_events WHERE merchant_id = $1 AND shipment_id = $2"
        " ORDER BY occurred_at DESC LIMIT $3",
        merchant_id,
        shipment_id,
        limit,
    )
    return [TrackingEventRecorded.model_validate_json(row["event"]) for row in rows]


async def create_anomaly(connection: DbConnection, *, detected: AnomalyDetected) -> None:
    await connection.execute(
        "INSERT INTO anomalies (merchant_id, anomaly_id, shipment_id, anomaly_type, detected)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
        detected.merchant_id,
        detected.anomaly_id,
        detected.shipment_id,
        detected.anomaly_type.value,
        detected.model_dump_json(),
    )


@dataclass(frozen=True)
class StoredAnomaly:
    detected: AnomalyDetected
    resolved_at: datetime | None


async def get_anomaly(
    connection: DbConnection, *, merchant_id: str, anomaly_id: UUID
) -> StoredAnomaly | None:
    row = await connection.fetchrow(
        "SELECT detected, resolved_at FROM anomalies WHERE merchant_id = $1 AND anomaly_id = $2",
        merchant_id,
        anomaly_id,
    )
    if row is None:
        return None
    return StoredAnomaly(
        detected=AnomalyDetected.model_validate_json(row["detected"]),
        resolved_at=row["resolved_at"],
    )


async def update_anomaly(
    connection: DbConnection, *, merchant_id: str, anomaly_id: UUID, resolved_at: datetime
) -> None:
    await connection.execute(
        "UPDATE anomalies SET resolved_at = $3"
        " WHERE merchant_id = $1 AND anomaly_id = $2 AND resolved_at IS NULL",
        merchant_id,
        anomaly_id,
        resolved_at,
    )


@dataclass(frozen=True)
class StoredConversation:
    conversation_id: UUID
    merchant_id: str
    shipment_id: str
    scenario_id: str
    locale: str
    progress: Progress
    status: ConversationStatus
    updated_at: datetime


def _conversation(row: Any) -> StoredConversation:
    return StoredConversation(
        conversation_id=row["conversation_id"],
        merchant_id=row["merchant_id"],
        shipment_id=row["shipment_id"],
        scenario_id=row["scenario_id"],
        locale=row["locale"],
        progress=Progress.from_json(json.loads(row["progress"])),
        status=ConversationStatus(row["status"]),
        updated_at=row["updated_at"],
    )


_CONVERSATION = "SELECT * FROM conversations WHERE merchant_id = $1 AND conversation_id = $2"
_CONVERSATION_FOR_UPDATE = _CONVERSATION + " FOR UPDATE"


async def get_conversation(
    connection: DbConnection, *, merchant_id: str, conversation_id: UUID, lock: bool = False
) -> StoredConversation | None:
    query = _CONVERSATION_FOR_UPDATE if lock else _CONVERSATION
    row = await connection.fetchrow(
        query,
        merchant_id,
        conversation_id,
    )
    return None if row is None else _conversation(row)


async def create_conversation(
    connection: DbConnection,
    *,
    conversation_id: UUID,
    merchant_id: str,
    shipment_id: str,
    purpose: str,
    subject_id: UUID,
    anomaly_type: str | None,
    scenario_id: str,
    scenario_version: str,
    locale: str,
    progress: Progress,
    now: datetime,
) -> bool:
    """False when it already exists (another device opened it first)."""
    created = await connection.fetchval(
        "INSERT INTO conversations (conversation_id, merchant_id, shipment_id, purpose,"
        " subject_id, anomaly_type, scenario_id, scenario_version, locale, progress, status,"
        " started_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $12)"
        " ON CONFLICT DO NOTHING RETURNING true",
        conversation_id,
        merchant_id,
        shipment_id,
        purpose,
        subject_id,
        anomaly_type,
        scenario_id,
        scenario_version,
        locale,
        json.dumps(progress.to_json()),
        ConversationStatus.after(progress).value,
        now,
    )
    return bool(created)


async def update_conversation(
    connection: DbConnection,
    *,
    conversation_id: UUID,
    progress: Progress | None = None,
    status: ConversationStatus,
    now: datetime,
) -> None:
    await connection.execute(
        "UPDATE conversations SET progress = COALESCE($2::jsonb, progress), status = $3,"
        " updated_at = $4 WHERE conversation_id = $1",
        conversation_id,
        json.dumps(progress.to_json()) if progress else None,
        status.value,
        now,
    )


async def create_answer(
    connection: DbConnection,
    *,
    answer_id: UUID,
    conversation_id: UUID,
    node_id: str,
    step: int,
    now: datetime,
) -> bool:
    """False when this step was already answered (a replay): the caller changes nothing."""
    created = await connection.fetchval(
        "INSERT INTO answers (answer_id, conversation_id, node_id, step, created_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
        answer_id,
        conversation_id,
        node_id,
        step,
        now,
    )
    return bool(created)


async def list_said_times(
    connection: DbConnection, *, conversation_id: UUID
) -> tuple[datetime, list[datetime]]:
    """When the conversation started, and when each step was answered (by step)."""
    started = await connection.fetchval(
        "SELECT started_at FROM conversations WHERE conversation_id = $1", conversation_id
    )
    rows = await connection.fetch(
        "SELECT created_at FROM answers WHERE conversation_id = $1 ORDER BY step",
        conversation_id,
    )
    return started, [row["created_at"] for row in rows]


async def delete_shipment(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    """Erase a shipment's copy and timeline (the tracker published a tombstone), and its
    conversations with every answer typed in them (free text, addresses, phones) and its
    anomalies: a link to them then leads nowhere (404)."""
    await connection.execute(
        "DELETE FROM answers WHERE conversation_id IN (SELECT conversation_id"
        " FROM conversations WHERE merchant_id = $1 AND shipment_id = $2)",
        merchant_id,
        shipment_id,
    )
    for table in ("agent_answers", "conversations", "anomalies", "tracking_events", "shipments"):
        await connection.execute(
            f"DELETE FROM {table} WHERE merchant_id = $1 AND shipment_id = $2",  # noqa: S608
            merchant_id,
            shipment_id,
        )


# The tracking page and the lookup page


async def get_open_anomaly(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> AnomalyDetected | None:
    """The shipment's latest anomaly not resolved yet."""
    raw = await connection.fetchval(
        "SELECT detected FROM anomalies"
        " WHERE merchant_id = $1 AND shipment_id = $2 AND resolved_at IS NULL"
        " ORDER BY (detected->>'occurred_at')::timestamptz DESC LIMIT 1",
        merchant_id,
        shipment_id,
    )
    return None if raw is None else AnomalyDetected.model_validate_json(raw)


async def list_shipments_by_order(
    connection: DbConnection,
    *,
    merchant_id: str,
    order_key: str,
    email: str | None,
    postal_code: str | None,
) -> list[str]:
    """Shipment ids of the order whose customer email or delivery postal code matches.

    The personal values are compared in SQL and never read back: a wrong order number
    and a wrong email or postal code run the same query and return the same nothing.
    """
    rows = await connection.fetch(
        "SELECT shipment_id FROM shipments"
        # The order number as domain.lookup.order_key writes it (indexed: chat_0003).
        " WHERE merchant_id = $1"
        " AND upper(ltrim(replace(state->>'order_number', ' ', ''), '#')) = $2"
        " AND (lower(state->'customer'->>'email') = $3"
        "  OR upper(translate(state->'delivery'->'address'->>'postal_code', ' -', '')) = $4)"
        " ORDER BY (state->>'parcel_index')::int, shipment_id",
        merchant_id,
        order_key,
        email,
        postal_code,
    )
    return [row["shipment_id"] for row in rows]


async def create_lookup_attempt(
    connection: DbConnection, *, bucket: str, window_start: datetime
) -> int:
    """Count one attempt in the bucket's window; returns the window's count so far."""
    count = await connection.fetchval(
        "INSERT INTO lookup_attempts (bucket, window_start, attempts) VALUES ($1, $2, 1)"
        " ON CONFLICT (bucket, window_start)"
        " DO UPDATE SET attempts = lookup_attempts.attempts + 1 RETURNING attempts",
        bucket,
        window_start,
    )
    return int(count)


async def delete_lookup_attempts(connection: DbConnection, *, before: datetime) -> None:
    await connection.execute("DELETE FROM lookup_attempts WHERE window_start < $1", before)
