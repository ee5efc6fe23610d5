"""The SQL of the back office's review queue (`office_reviews`, migration insights_0007).

Verbs: get, create, update, delete, list; keyword arguments only. The order number comes
from `office_shipments` at read time (absent until the shipment's state arrives).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from relais_insights.domain.review_queue import QueuedReview, ReviewState
from relais_runtime.db import DbConnection


@dataclass(frozen=True)
class ReviewRow:
    review: QueuedReview
    order_number: str | None
    state: ReviewState


async def create_review(
    connection: DbConnection, *, merchant_id: str, review: QueuedReview
) -> None:
    """Queue a review once (a replayed event adds nothing, a closed review stays closed)."""
    await connection.execute(
        "INSERT INTO office_reviews (merchant_id, review_id, shipment_id, anomaly_id,"
        " anomaly_type, purpose, template, channels, held_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        merchant_id,
        review.review_id,
        review.shipment_id,
        review.anomaly_id,
        review.anomaly_type,
        review.purpose,
        review.template,
        list(review.channels),
        review.held_at,
    )


async def update_review(
    connection: DbConnection,
    *,
    merchant_id: str,
    review_id: UUID,
    state: ReviewState,
    decided_at: datetime | None = None,
    decided_by: UUID | None = None,
) -> bool:
    """Close a held review; False when it is not (or no longer) held."""
    result: str = await connection.execute(
        "UPDATE office_reviews SET status = $3, decided_at = COALESCE($4, decided_at),"
        " decided_by = COALESCE($5, decided_by)"
        " WHERE merchant_id = $1 AND review_id = $2 AND status = 'held'",
        merchant_id,
        review_id,
        state.value,
        decided_at,
        decided_by,
    )
    return result.split()[-1] != "0"


async def update_anomaly_withdrawn(
    connection: DbConnection, *, merchant_id: str, anomaly_id: UUID
) -> None:
    await connection.execute(
        "UPDATE office_reviews SET status = 'withdrawn'"
        " WHERE merchant_id = $1 AND anomaly_id = $2 AND status = 'held'",
        merchant_id,
        anomaly_id,
    )


async def delete_shipment_reviews(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> None:
    await connection.execute(
        "DELETE FROM office_reviews WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )


_SELECT = (
    "SELECT r.review_id, r.shipment_id, r.anomaly_id, r.anomaly_type, r.purpose, r.template,"
    " r.channels, r.held_at, r.status, s.order_number FROM office_reviews r"
    " LEFT JOIN office_shipments s"
    " ON s.merchant_id = r.merchant_id AND s.shipment_id = r.shipment_id"
)


def _row(record: asyncpg.Record) -> ReviewRow:
    get = record.__getitem__
    return ReviewRow(
        review=QueuedReview(
            review_id=get("review_id"),
            shipment_id=get("shipment_id"),
            anomaly_id=get("anomaly_id"),
            anomaly_type=get("anomaly_type"),
            purpose=get("purpose"),
            template=get("template"),
            channels=tuple(get("channels")),
            held_at=get("held_at"),
        ),
        order_number=get("order_number"),
        state=ReviewState(get("status")),
    )


async def list_held_reviews(
    connection: DbConnection, *, merchant_id: str, limit: int
) -> list[ReviewRow]:
    """The held reviews, oldest first."""
    records = await connection.fetch(
        f"{_SELECT} WHERE r.merchant_id = $1 AND r.status = 'held'"
        " ORDER BY r.held_at, r.review_id LIMIT $2",
        merchant_id,
        limit,
    )
    return [_row(record) for record in records]


async def get_review(
    connection: DbConnection, *, merchant_id: str, review_id: UUID
) -> ReviewRow | None:
    """The review of this merchant, locked until the transaction ends."""
    record = await connection.fetchrow(
        f"{_SELECT} WHERE r.merchant_id = $1 AND r.review_id = $2 FOR UPDATE OF r",
        merchant_id,
        review_id,
    )
    return _row(record) if record else None


@dataclass(frozen=True)
class Waiting:
    merchant_id: str
    oldest_held_at: datetime | None
    held: int


async def list_waiting(connection: DbConnection) -> list[Waiting]:
    """Per merchant with held reviews: the oldest's time and how many are held."""
    records = await connection.fetch(
        "SELECT merchant_id, min(held_at) AS oldest, count(*) AS held FROM office_reviews"
        " WHERE status = 'held' GROUP BY merchant_id"
    )
    return [
        Waiting(merchant_id=r["merchant_id"], oldest_held_at=r["oldest"], held=r["held"])
        for r in records
    ]


async def list_held_times(connection: DbConnection, *, merchant_id: str) -> list[datetime]:
    records = await connection.fetch(
        "SELECT held_at FROM office_reviews WHERE merchant_id = $1 AND status = 'held'",
        merchant_id,
    )
    return [record["held_at"] for record in records]
