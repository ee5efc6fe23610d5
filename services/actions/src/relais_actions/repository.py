"""The actions service's SQL, on its own schema.

Verbs: get, get_or_create, create, update, delete, list; keyword arguments only.
Every read and write is scoped by `merchant_id`: one merchant never sees or acts on
another's rows. Nothing personal is stored (see migration actions_0002).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from relais_actions.domain.lifecycle import ActionState
from relais_contracts.actions import ActionType
from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.action_results import (
    ActionCompleted,
    ActionFailed,
    ActionFailureReason,
)
from relais_runtime.db import DbConnection


@dataclass(frozen=True)
class AnomalyRow:
    shipment: ShipmentContext
    resolution_reason: ResolutionReason | None


@dataclass(frozen=True)
class ActionRow:
    state: ActionState
    action_type: ActionType


async def update_shipment(
    connection: DbConnection,
    *,
    merchant_id: str,
    shipment_id: str,
    context: ShipmentContext,
    seen_at: datetime,
) -> None:
    """Keep the latest snapshot of a shipment (created the first time it is seen)."""
    await connection.execute(
        "INSERT INTO shipments (merchant_id, shipment_id, context, seen_at)"
        " VALUES ($1, $2, $3::jsonb, $4)"
        " ON CONFLICT (merchant_id, shipment_id) DO UPDATE"
        " SET context = EXCLUDED.context, seen_at = EXCLUDED.seen_at"
        " WHERE shipments.seen_at <= EXCLUDED.seen_at",
        merchant_id,
        shipment_id,
        context.model_dump_json(),
        seen_at,
    )


async def get_shipment(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> ShipmentContext | None:
    raw = await connection.fetchval(
        "SELECT context FROM shipments WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )
    return None if raw is None else ShipmentContext.model_validate_json(raw)


async def get_or_create_anomaly(
    connection: DbConnection,
    *,
    merchant_id: str,
    anomaly_id: UUID,
    shipment_id: str,
    anomaly_type: AnomalyType,
    context: ShipmentContext,
    detected_at: datetime,
) -> None:
    await connection.execute(
        "INSERT INTO anomalies (merchant_id, anomaly_id, shipment_id, anomaly_type, context,"
        " detected_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING",
        merchant_id,
        anomaly_id,
        shipment_id,
        anomaly_type.value,
        context.model_dump_json(),
        detected_at,
    )


async def update_anomaly(
    connection: DbConnection,
    *,
    merchant_id: str,
    anomaly_id: UUID,
    resolved_at: datetime,
    resolution_reason: ResolutionReason,
) -> None:
    await connection.execute(
        "UPDATE anomalies SET resolved_at = $3, resolution_reason = $4"
        " WHERE merchant_id = $1 AND anomaly_id = $2 AND resolved_at IS NULL",
        merchant_id,
        anomaly_id,
        resolved_at,
        resolution_reason.value,
    )


async def get_anomaly(
    connection: DbConnection, *, merchant_id: str, anomaly_id: UUID
) -> AnomalyRow | None:
    row = await connection.fetchrow(
        "SELECT context, resolution_reason FROM anomalies"
        " WHERE merchant_id = $1 AND anomaly_id = $2",
        merchant_id,
        anomaly_id,
    )
    if row is None:
        return None
    reason = row["resolution_reason"]
    return AnomalyRow(
        shipment=ShipmentContext.model_validate_json(row["context"]),
        resolution_reason=None if reason is None else ResolutionReason(reason),
    )


async def create_action(
    connection: DbConnection,
    *,
    command: ExecuteAction | None = None,
    refused: ActionFailed | None = None,
) -> bool:
    """Record a decided action, pending (a command) or failed (a refusal).

    False when this action id was already decided: the first decision stands.
    """
    values: tuple[object, ...]
    if command is not None:
        values = (
            command.merchant_id,
            command.action_id,
            command.shipment_id,
            command.shipment.order_id,
            command.action_type.value,
            command.automatic,
            command.source_event_id,
            command.anomaly_id,
            command.conversation_id,
            ActionState.PENDING.value,
            command.occurred_at,
            None,
            None,
        )
    elif refused is not None:
        values = (
            refused.merchant_id,
            refused.action_id,
            refused.shipment_id,
            refused.order_id,
            refused.action.value,
            refused.automatic,
            refused.event_id,
            refused.anomaly_id,
            refused.conversation_id,
            ActionState.FAILED.value,
            refused.occurred_at,
            refused.occurred_at,
            refused.reason.value,
        )
    else:
        raise TypeError("give a command or a refusal")
    created = await connection.fetchval(
        "INSERT INTO actions (merchant_id, action_id, shipment_id, order_id, action_type,"
        " automatic, source_event_id, anomaly_id, conversation_id, state, decided_at,"
        " finished_at, failure_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " $12, $13) ON CONFLICT DO NOTHING RETURNING true",
        *values,
    )
    return bool(created)


GET_ACTION = "SELECT state, action_type FROM actions WHERE merchant_id = $1 AND action_id = $2"
GET_ACTION_LOCKED = GET_ACTION + " FOR NO KEY UPDATE"
"""Serialises attempts of one action without blocking its attempts' foreign keys."""


async def get_action(
    connection: DbConnection, *, merchant_id: str, action_id: UUID, lock: bool = False
) -> ActionRow | None:
    row = await connection.fetchrow(
        GET_ACTION_LOCKED if lock else GET_ACTION,
        merchant_id,
        action_id,
    )
    if row is None:
        return None
    return ActionRow(state=ActionState(row["state"]), action_type=ActionType(row["action_type"]))


async def update_action(
    connection: DbConnection, *, result: ActionCompleted | ActionFailed
) -> None:
    """Close a pending action with its result (a closed action is never reopened)."""
    state = ActionState.FAILED if isinstance(result, ActionFailed) else ActionState.COMPLETED
    await connection.execute(
        "UPDATE actions SET state = $3, finished_at = $4, failure_reason = $5,"
        " http_status = $6, escalated = $7, merchant_reference = $8, detail = $9"
        " WHERE merchant_id = $1 AND action_id = $2 AND state = 'pending'",
        result.merchant_id,
        result.action_id,
        state.value,
        result.occurred_at,
        result.reason.value if isinstance(result, ActionFailed) else None,
        result.http_status if isinstance(result, ActionFailed) else None,
        result.escalated if isinstance(result, ActionFailed) else False,
        result.merchant_reference if isinstance(result, ActionCompleted) else None,
        result.detail if isinstance(result, ActionFailed) else None,
    )


async def create_attempt(
    connection: DbConnection,
    *,
    merchant_id: str,
    action_id: UUID,
    attempt: int,
    started_at: datetime,
    called: bool,
) -> None:
    """Record an attempt before it is made (a redelivered attempt keeps its first row)."""
    await connection.execute(
        "INSERT INTO attempts (merchant_id, action_id, attempt, started_at, called)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        merchant_id,
        action_id,
        attempt,
        started_at,
        called,
    )


async def update_attempt(
    connection: DbConnection,
    *,
    merchant_id: str,
    action_id: UUID,
    attempt: int,
    finished_at: datetime,
    outcome: str,
    http_status: int | None,
    duration_ms: int | None,
) -> None:
    await connection.execute(
        "UPDATE attempts SET finished_at = $4, outcome = $5, http_status = $6, duration_ms = $7"
        " WHERE merchant_id = $1 AND action_id = $2 AND attempt = $3",
        merchant_id,
        action_id,
        attempt,
        finished_at,
        outcome,
        http_status,
        duration_ms,
    )


async def get_calls_made(connection: DbConnection, *, merchant_id: str, action_id: UUID) -> int:
    """How many attempts of this action actually called the merchant."""
    count = await connection.fetchval(
        "SELECT count(*) FROM attempts WHERE merchant_id = $1 AND action_id = $2 AND called",
        merchant_id,
        action_id,
    )
    return int(count or 0)


async def update_actions_erased(
    connection: DbConnection, *, merchant_id: str, shipment_id: str, now: datetime
) -> None:
    """An erased shipment's actions keep their type, state, times and the merchant's
    reference, and lose the merchant's free-text `detail`; a pending one is closed as
    expired, so a command still on its way (a retry tier) calls nobody."""
    await connection.execute(
        "UPDATE actions SET detail = NULL,"
        " failure_reason = CASE WHEN state = 'pending' THEN $3 ELSE failure_reason END,"
        " finished_at = CASE WHEN state = 'pending' THEN $4 ELSE finished_at END,"
        " state = CASE WHEN state = 'pending' THEN 'failed' ELSE state END"
        " WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
        ActionFailureReason.EXPIRED.value,
        now,
    )
