"""SQL of the level-2 desk's answers shown in the chat (migration chat_0004)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from relais_contracts.topics.desk_replies import AnswerCustomer
from relais_runtime.db import DbConnection


@dataclass(frozen=True)
class AgentAnswer:
    answer_id: UUID
    agent_name: str
    text: str
    answered_at: datetime


async def create_agent_answer(connection: DbConnection, *, answer: AnswerCustomer) -> bool:
    """False when this answer is already stored (a replay): the caller changes nothing."""
    created = await connection.fetchval(
        "INSERT INTO agent_answers (answer_id, merchant_id, shipment_id, anomaly_id, case_id,"
        " agent_name, text, answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT DO NOTHING RETURNING true",
        answer.answer_id,
        answer.merchant_id,
        answer.shipment_id,
        answer.anomaly_id,
        answer.case_id,
        answer.agent_name,
        answer.text,
        answer.occurred_at,
    )
    return bool(created)


async def list_agent_answers(
    connection: DbConnection, *, merchant_id: str, shipment_id: str, anomaly_id: UUID | None
) -> list[AgentAnswer]:
    """The answers for one chat: those naming its anomaly, and those naming none."""
    rows = await connection.fetch(
        "SELECT answer_id, agent_name, text, answered_at FROM agent_answers"
        " WHERE merchant_id = $1 AND shipment_id = $2"
        " AND (anomaly_id IS NULL OR anomaly_id = $3) ORDER BY answered_at, answer_id",
        merchant_id,
        shipment_id,
        anomaly_id,
    )
    return [
        AgentAnswer(
            answer_id=row["answer_id"],
            agent_name=row["agent_name"],
            text=row["text"],
            answered_at=row["answered_at"],
        )
        for row in rows
    ]
