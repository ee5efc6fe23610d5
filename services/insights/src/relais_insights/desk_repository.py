"""SQL of the level-2 desk: cases, internal notes and answers (migration insights_0005)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from relais_insights.domain.desk import CaseKind, CaseStatus, DeskCase, DeskNote
from relais_runtime.db import DbConnection

_UPSERT = """
INSERT INTO desk_cases (merchant_id, case_id, shipment_id, order_id, kind, anomaly_id,
    anomaly_type, conversation_id, phone, note, slot_start, slot_end, time_zone, locale,
    level, due_at, transcript, opened_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb,
    $18, $18)
ON CONFLICT (merchant_id, case_id) DO UPDATE SET
    level = GREATEST(desk_cases.level, EXCLUDED.level),
    due_at = LEAST(desk_cases.due_at, EXCLUDED.due_at),
    transcript = CASE WHEN jsonb_array_length(EXCLUDED.transcript) > 0
        THEN EXCLUDED.transcript ELSE desk_cases.transcript END,
    updated_at = GREATEST(desk_cases.updated_at, EXCLUDED.updated_at)
"""


async def update_case(connection: DbConnection, *, merchant_id: str, case: DeskCase) -> None:
    """Create the case, or fold a further escalation into it (status and assignee stay)."""
    await connection.execute(
        _UPSERT,
        merchant_id,
        case.case_id,
        case.shipment_id,
        case.order_id,
        case.kind.value,
        case.anomaly_id,
        case.anomaly_type,
        case.conversation_id,
        case.phone,
        case.note,
        case.slot_start,
        case.slot_end,
        case.time_zone,
        case.locale,
        case.level,
        case.due_at,
        case.transcript_json(),
        case.opened_at,
    )


_SELECT = (
    "SELECT c.*, s.order_number FROM desk_cases c LEFT JOIN office_shipments s"
    " ON s.merchant_id = c.merchant_id AND s.shipment_id = c.shipment_id"
)


def _case(row: Any) -> DeskCase:
    return DeskCase(
        case_id=row["case_id"],
        shipment_id=row["shipment_id"],
        order_id=row["order_id"],
        kind=CaseKind(row["kind"]),
        due_at=row["due_at"],
        opened_at=row["opened_at"],
        anomaly_id=row["anomaly_id"],
        anomaly_type=row["anomaly_type"],
        conversation_id=row["conversation_id"],
        phone=row["phone"],
        note=row["note"],
        slot_start=row["slot_start"],
        slot_end=row["slot_end"],
        time_zone=row["time_zone"],
        locale=row["locale"],
        level=row["level"],
        transcript=tuple(json.loads(row["transcript"])),
        status=CaseStatus(row["status"]),
        assignee=row["assignee"],
        order_number=row["order_number"],
        updated_at=row["updated_at"],
    )


async def list_cases(
    connection: DbConnection,
    *,
    merchant_id: str,
    status: CaseStatus | None,
    assignee: UUID | None,
    unassigned: bool,
    limit: int,
) -> list[DeskCase]:
    """The queue, oldest case first."""
    conditions: list[str] = ["c.merchant_id = $1"]
    params: list[object] = [merchant_id]
    if status is not None:
        params.append(status.value)
        conditions.append(f"c.status = ${len(params)}")
    if assignee is not None:
        params.append(assignee)
        conditions.append(f"c.assignee = ${len(params)}")
    elif unassigned:
        conditions.append("c.assignee IS NULL")
    rows = await connection.fetch(
        f"{_SELECT} WHERE {' AND '.join(conditions)}"
        f" ORDER BY c.opened_at, c.case_id LIMIT {int(limit)}",
        *params,
    )
    return [_case(row) for row in rows]


async def get_case(
    connection: DbConnection, *, merchant_id: str, case_id: UUID, lock: bool = False
) -> DeskCase | None:
    row = await connection.fetchrow(
        f"{_SELECT} WHERE c.merchant_id = $1 AND c.case_id = $2"
        + (" FOR UPDATE OF c" if lock else ""),
        merchant_id,
        case_id,
    )
    return None if row is None else _case(row)


async def _writings(
    connection: DbConnection, table: str, key: str, *, merchant_id: str, case_id: UUID
) -> tuple[DeskNote, ...]:
    rows = await connection.fetch(
        f"SELECT w.{key} AS note_id, w.author_id, w.at, w.text,"  # noqa: S608
        " COALESCE(u.display_name, w.signed_as) AS display_name"
        f" FROM {table} w LEFT JOIN office_users u"
        " ON u.merchant_id = w.merchant_id AND u.user_id = w.author_id"
        f" WHERE w.merchant_id = $1 AND w.case_id = $2 ORDER BY w.at, w.{key}",
        merchant_id,
        case_id,
    )
    return tuple(
        DeskNote(
            note_id=row["note_id"],
            author_id=row["author_id"],
            author_name=row["display_name"],
            at=row["at"],
            text=row["text"],
        )
        for row in rows
    )


async def list_notes(
    connection: DbConnection, *, merchant_id: str, case_id: UUID
) -> tuple[DeskNote, ...]:
    return await _writings(
        connection, "desk_notes", "note_id", merchant_id=merchant_id, case_id=case_id
    )


async def list_answers(
    connection: DbConnection, *, merchant_id: str, case_id: UUID
) -> tuple[DeskNote, ...]:
    return await _writings(
        connection, "desk_answers", "answer_id", merchant_id=merchant_id, case_id=case_id
    )


async def update_case_state(
    connection: DbConnection,
    *,
    merchant_id: str,
    case_id: UUID,
    status: CaseStatus | None = None,
    assignee: UUID | None = None,
    unassign: bool = False,
    at: Any,
) -> None:
    await connection.execute(
        "UPDATE desk_cases SET status = COALESCE($3, status),"
        " assignee = CASE WHEN $5 THEN NULL ELSE COALESCE($4, assignee) END, updated_at = $6"
        " WHERE merchant_id = $1 AND case_id = $2",
        merchant_id,
        case_id,
        status.value if status else None,
        assignee,
        unassign,
        at,
    )


async def create_note(
    connection: DbConnection, *, merchant_id: str, case_id: UUID, note: DeskNote, answer: bool
) -> None:
    table, key = ("desk_answers", "answer_id") if answer else ("desk_notes", "note_id")
    await connection.execute(
        f"INSERT INTO {table} (merchant_id, case_id, {key}, author_id, signed_as, at, text)"  # noqa: S608
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        merchant_id,
        case_id,
        note.note_id,
        note.author_id,
        None if note.author_id else note.author_name,
        note.at,
        note.text,
    )


async def delete_shipment_cases(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> None:
    """The tombstone: the cases go, with their notes and answers (ON DELETE CASCADE)."""
    await connection.execute(
        "DELETE FROM desk_cases WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )
