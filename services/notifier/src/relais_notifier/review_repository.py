"""The SQL of the `reviews` table (messages held for the merchant's review).

Verbs: get, create, update, list; keyword arguments only. A review holds the planned
message's non-personal facts, never the contact.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from relais_contracts.topics.notifications import Channel, LinkKind, TriggerKind
from relais_notifier.domain.review import HeldReview, ReviewStatus
from relais_notifier.domain.triggers import MessageFacts, MessageRequest, Trigger
from relais_runtime.db import DbConnection

_COLUMNS = (
    "review_id, merchant_id, shipment_id, correlation_id, trigger_kind, trigger_ref,"
    " trigger_name, source_event_id, purpose, template, channels, urgent, link_kind,"
    " link_subject, facts, status, held_at"
)


async def create_review(connection: DbConnection, *, review: HeldReview) -> bool:
    """Insert a held review; False when this review id is already there (a replay)."""
    request = review.request
    trigger = request.trigger
    created = await connection.fetchval(
        f"INSERT INTO reviews ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"  # noqa: S608
        " $11, $12, $13, $14, $15::jsonb, $16, $17)"
        " ON CONFLICT (review_id) DO NOTHING RETURNING true",
        review.review_id,
        review.merchant_id,
        review.shipment_id,
        review.correlation_id,
        trigger.kind.value,
        trigger.ref_id,
        trigger.name,
        trigger.source_event_id,
        request.purpose,
        request.template,
        [channel.value for channel in request.channels],
        request.urgent,
        request.link_kind.value,
        request.link_subject,
        request.facts.model_dump_json(),
        review.status.value,
        review.held_at,
    )
    return bool(created)


def _review(row: asyncpg.Record) -> HeldReview:
    facts: Any = row["facts"]
    if isinstance(facts, str):
        facts = json.loads(facts)
    request = MessageRequest(
        trigger=Trigger(
            kind=TriggerKind(row["trigger_kind"]),
            ref_id=row["trigger_ref"],
            name=row["trigger_name"],
            source_event_id=row["source_event_id"],
        ),
        purpose=row["purpose"],
        template=row["template"],
        channels=tuple(Channel(channel) for channel in row["channels"]),
        urgent=row["urgent"],
        link_kind=LinkKind(row["link_kind"]),
        link_subject=row["link_subject"],
        facts=MessageFacts.model_validate(facts),
    )
    return HeldReview(
        review_id=row["review_id"],
        merchant_id=row["merchant_id"],
        shipment_id=row["shipment_id"],
        correlation_id=row["correlation_id"],
        request=request,
        held_at=row["held_at"],
        status=ReviewStatus(row["status"]),
    )


async def get_review(
    connection: DbConnection, *, merchant_id: str, review_id: UUID
) -> HeldReview | None:
    """The review, locked until this transaction ends (decisions on it are serialised)."""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM reviews"  # noqa: S608
        " WHERE review_id = $1 AND merchant_id = $2 FOR UPDATE",
        review_id,
        merchant_id,
    )
    return _review(row) if row else None


async def list_held_reviews(
    connection: DbConnection, *, merchant_id: str, trigger_ref: UUID
) -> list[HeldReview]:
    """The reviews of a trigger still held, locked."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM reviews"  # noqa: S608
        " WHERE merchant_id = $1 AND trigger_ref = $2 AND status = 'held' FOR UPDATE",
        merchant_id,
        trigger_ref,
    )
    return [_review(row) for row in rows]


async def update_review(
    connection: DbConnection,
    *,
    review_id: UUID,
    status: ReviewStatus,
    decided_at: datetime,
    decided_by: UUID | None = None,
) -> None:
    await connection.execute(
        "UPDATE reviews SET status = $2, decided_at = $3, decided_by = $4 WHERE review_id = $1",
        review_id,
        status.value,
        decided_at,
        decided_by,
    )
