"""The chat's SQL, on its own schema.

Verbs: get, get_or_create, create, update, delete, list; keyword arguments only.
Every read is scoped by merchant_id: callers pass the merchant from the signed link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel

from relais_chat.desk_repository import AgentAnswer
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


# One page view, one statement

ModelT = TypeVar("ModelT", bound=BaseModel)


@lru_cache(maxsize=1024)
def parsed(model: type[ModelT], raw: str) -> ModelT:
    """The model of a stored JSON document, remembered by its exact text: validating
    is a page view's largest cost, and a contract model is immutable (frozen), so
    pages showing the same rows share one instance. A changed row is new text."""
    return model.model_validate_json(raw)


EVENTS_SHOWN = 50
"""The newest carrier events a page shows (list_tracking_events' default too)."""


@dataclass(frozen=True)
class ConversationPageRead:
    """What a chat or survey page shows, as one statement read it (missing rows: None)."""

    anomaly: StoredAnomaly | None
    state: ShipmentStateChanged | None
    conversation: StoredConversation | None
    events: list[TrackingEventRecorded]
    agent_answers: list[AgentAnswer]


_CONVERSATION_PAGE = (
    "SELECT a.detected, a.resolved_at, s.state,"
    " c.conversation_id, c.merchant_id AS c_merchant_id, c.shipment_id AS c_shipment_id,"
    " c.scenario_id, c.locale, c.progress, c.status, c.updated_at,"
    " ARRAY(SELECT e.event FROM tracking_events e"
    "  WHERE e.merchant_id = $1 AND e.shipment_id = k.shipment_id"
    "  ORDER BY e.occurred_at DESC LIMIT $5) AS events,"
    " ARRAY(SELECT ROW(g.answer_id, g.agent_name, g.text, g.answered_at) FROM agent_answers g"
    "  WHERE $6 AND g.merchant_id = $1 AND g.shipment_id = k.shipment_id"
    "  AND (g.anomaly_id IS NULL OR g.anomaly_id = $7)"
    "  ORDER BY g.answered_at, g.answer_id) AS agent_answers"
    " FROM (VALUES (1)) AS one (x)"
    " LEFT JOIN anomalies a ON a.merchant_id = $1 AND a.anomaly_id = $2"
    " CROSS JOIN LATERAL (SELECT COALESCE(a.shipment_id, $3) AS shipment_id) AS k"
    " LEFT JOIN shipments s ON s.merchant_id = $1 AND s.shipment_id = k.shipment_id"
    " LEFT JOIN conversations c ON c.merchant_id = $1 AND c.conversation_id = $4"
)


async def get_conversation_page(
    connection: DbConnection,
    *,
    merchant_id: str,
    anomaly_id: UUID | None,
    shipment_id: str | None,
    conversation_id: UUID,
    answers_about: UUID | None,
) -> ConversationPageRead:
    """One statement: the anomaly (when `anomaly_id`), the shipment (the anomaly's, else
    `shipment_id`), the conversation, the shipment's newest carrier events and, when
    `answers_about` is given, the desk's answers naming it or naming no anomaly (as
    desk_repository.list_agent_answers)."""
    row = await connection.fetchrow(
        _CONVERSATION_PAGE,
        merchant_id,
        anomaly_id,
        shipment_id,
        conversation_id,
        EVENTS_SHOWN,
        answers_about is not None,
        answers_about,
    )
    assert row is not None  # the statement always returns its one row
    return ConversationPageRead(
        anomaly=None
        if row["detected"] is None
        else StoredAnomaly(
            detected=parsed(AnomalyDetected, row["detected"]),
            resolved_at=row["resolved_at"],
        ),
        state=None if row["state"] is None else parsed(ShipmentStateChanged, row["state"]),
        conversation=None
        if row["conversation_id"] is None
        else _conversation(
            {
                **row,
                "merchant_id": row["c_merchant_id"],
                "shipment_id": row["c_shipment_id"],
            }
        ),
        events=[parsed(TrackingEventRecorded, raw) for raw in row["events"]],
        agent_answers=[
            AgentAnswer(answer_id=answer_id, agent_name=agent, text=text, answered_at=at)
            for answer_id, agent, text, at in row["agent_answers"]
        ],
    )


@dataclass(frozen=True)
class TrackingPageRead:
    state: ShipmentStateChanged
    events: list[TrackingEventRecorded]
    open_anomaly: AnomalyDetected | None


_TRACKING_PAGE = (
    "SELECT s.state,"
    " ARRAY(SELECT e.event FROM tracking_events e"
    "  WHERE e.merchant_id = $1 AND e.shipment_id = $2"
    "  ORDER BY e.occurred_at DESC LIMIT $3) AS events,"
    " (SELECT o.detected FROM anomalies o"
    "  WHERE o.merchant_id = $1 AND o.shipment_id = $2 AND o.resolved_at IS NULL"
    "  ORDER BY (o.detected->>'occurred_at')::timestamptz DESC LIMIT 1) AS open_anomaly"
    " FROM shipments s WHERE s.merchant_id = $1 AND s.shipment_id = $2"
)


async def get_tracking_page(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> TrackingPageRead | None:
    """One statement: the shipment, its newest carrier events and its latest open anomaly
    (as get_open_anomaly); None when the shipment is unknown."""
    row = await connection.fetchrow(_TRACKING_PAGE, merchant_id, shipment_id, EVENTS_SHOWN)
    if row is None:
        return None
    return TrackingPageRead(
        state=parsed(ShipmentStateChanged, row["state"]),
        events=[parsed(TrackingEventRecorded, raw) for raw in row["events"]],
        open_anomaly=None
        if row["open_anomaly"] is None
        else parsed(AnomalyDetected, row["open_anomaly"]),
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
