"""SQL of the back office's campaigns (office_campaigns, office_campaign_messages).

Rules:
- every statement is scoped by the merchant;
- a selection is read from office_shipments with the orders list's own conditions
  (order_repository.shipment_conditions), in keyset batches of (ordered_at,
  shipment_id), so a large selection never holds more than one batch in memory;
- a message's row keeps its latest outcome: a deferral replaces only a deferral.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from relais_contracts.topics.notification_commands import CampaignContent
from relais_insights.domain.campaigns import (
    BATCH_SIZE,
    Campaign,
    CampaignMessage,
    CampaignProgress,
    CampaignSelection,
    progress_of,
)
from relais_insights.domain.order_filters import Position, ShipmentQuery
from relais_insights.order_repository import shipment_conditions
from relais_runtime.db import DbConnection

CONTENT: TypeAdapter[CampaignContent] = TypeAdapter(CampaignContent)


@dataclass(frozen=True)
class Target:
    """A selected shipment: what a command needs about it."""

    shipment_id: str
    order_number: str
    ordered_at: datetime


async def count_selection(
    connection: DbConnection, *, merchant_id: str, selection: CampaignSelection, time_zone: str
) -> int:
    query = selection.query()
    if query is None:
        found: int = await connection.fetchval(
            "SELECT count(*) FROM office_shipments"
            " WHERE merchant_id = $1 AND shipment_id = ANY($2::text[])",
            merchant_id,
            list(selection.shipment_ids or ()),
        )
        return found
    conditions = shipment_conditions(query, merchant_id=merchant_id, time_zone=time_zone)
    counted: int = await connection.fetchval(
        f"SELECT count(*) FROM office_shipments WHERE {conditions.sql()}",  # noqa: S608
        *conditions.params,
    )
    return counted


async def _filtered_batch(
    connection: DbConnection,
    *,
    merchant_id: str,
    query: ShipmentQuery,
    time_zone: str,
    after: Position | None,
) -> list[Target]:
    conditions = shipment_conditions(
        query, merchant_id=merchant_id, time_zone=time_zone, position=after
    )
    rows = await connection.fetch(
        "SELECT shipment_id, order_number, ordered_at FROM office_shipments"  # noqa: S608
        f" WHERE {conditions.sql()}"
        f" ORDER BY ordered_at DESC, shipment_id DESC LIMIT {BATCH_SIZE}",
        *conditions.params,
    )
    return [Target(**dict(row)) for row in rows]


async def list_selection(
    connection: DbConnection, *, merchant_id: str, selection: CampaignSelection, time_zone: str
) -> AsyncIterator[list[Target]]:
    """The selected shipments of the merchant, one batch at a time, newest order first."""
    query = selection.query()
    if query is None:
        rows = await connection.fetch(
            "SELECT shipment_id, order_number, ordered_at FROM office_shipments"
            " WHERE merchant_id = $1 AND shipment_id = ANY($2::text[])"
            " ORDER BY ordered_at DESC, shipment_id DESC",
            merchant_id,
            list(selection.shipment_ids or ()),
        )
        targets = [Target(**dict(row)) for row in rows]
        for start in range(0, len(targets), BATCH_SIZE):
            yield targets[start : start + BATCH_SIZE]
        return
    after: Position | None = None
    while True:
        batch = await _filtered_batch(
            connection, merchant_id=merchant_id, query=query, time_zone=time_zone, after=after
        )
        if not batch:
            return
        yield batch
        last = batch[-1]
        after = Position(last.ordered_at, last.shipment_id)


async def create_campaign(
    connection: DbConnection, *, merchant_id: str, campaign: Campaign
) -> None:
    await connection.execute(
        "INSERT INTO office_campaigns (merchant_id, campaign_id, name, content_kind, content,"
        " selection, requested, created_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9)",
        merchant_id,
        campaign.campaign_id,
        campaign.name,
        campaign.content.kind,
        CONTENT.dump_json(campaign.content).decode(),
        campaign.selection.model_dump_json(exclude_none=True),
        campaign.requested,
        campaign.created_by,
        campaign.created_at,
    )


async def update_requested(
    connection: DbConnection, *, merchant_id: str, campaign_id: UUID, requested: int
) -> None:
    await connection.execute(
        "UPDATE office_campaigns SET requested = $3 WHERE merchant_id = $1 AND campaign_id = $2",
        merchant_id,
        campaign_id,
        requested,
    )


def _campaign(row: Any, progress: CampaignProgress) -> Campaign:
    return Campaign(
        campaign_id=row["campaign_id"],
        name=row["name"],
        content=CONTENT.validate_json(row["content"]),
        selection=CampaignSelection.model_validate_json(row["selection"]),
        requested=row["requested"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        progress=progress,
    )


_COLUMNS = "campaign_id, name, content, selection, requested, created_by, created_at"


async def get_campaign(
    connection: DbConnection, *, merchant_id: str, campaign_id: UUID
) -> Campaign | None:
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM office_campaigns"  # noqa: S608
        " WHERE merchant_id = $1 AND campaign_id = $2",
        merchant_id,
        campaign_id,
    )
    if row is None:
        return None
    progress = await _progress(connection, merchant_id=merchant_id, campaign_ids=[campaign_id])
    return _campaign(row, progress.get(campaign_id, CampaignProgress()))


async def list_campaigns(
    connection: DbConnection, *, merchant_id: str, limit: int
) -> list[Campaign]:
    """Newest first, each with its progress."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM office_campaigns WHERE merchant_id = $1"  # noqa: S608
        " ORDER BY created_at DESC, campaign_id LIMIT $2",
        merchant_id,
        limit,
    )
    ids = [row["campaign_id"] for row in rows]
    progress = await _progress(connection, merchant_id=merchant_id, campaign_ids=ids)
    return [_campaign(row, progress.get(row["campaign_id"], CampaignProgress())) for row in rows]


async def _progress(
    connection: DbConnection, *, merchant_id: str, campaign_ids: list[UUID]
) -> dict[UUID, CampaignProgress]:
    rows = await connection.fetch(
        "SELECT campaign_id, outcome, reason, count(*) AS n FROM office_campaign_messages"
        " WHERE merchant_id = $1 AND campaign_id = ANY($2::uuid[])"
        " GROUP BY campaign_id, outcome, reason",
        merchant_id,
        campaign_ids,
    )
    grouped: dict[UUID, list[tuple[str, str | None, int]]] = {}
    for row in rows:
        grouped.setdefault(row["campaign_id"], []).append((row["outcome"], row["reason"], row["n"]))
    return {campaign_id: progress_of(found) for campaign_id, found in grouped.items()}


async def update_campaign_message(
    connection: DbConnection, *, merchant_id: str, message: CampaignMessage
) -> None:
    """Insert, or move a deferred message on to its newer outcome; a final one stays."""
    await connection.execute(
        "INSERT INTO office_campaign_messages (merchant_id, idempotency_key, campaign_id,"
        " shipment_id, channel, outcome, reason, occurred_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (merchant_id, idempotency_key) DO UPDATE SET"
        " outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,"
        " occurred_at = EXCLUDED.occurred_at"
        " WHERE office_campaign_messages.outcome = 'deferred'"
        " AND (EXCLUDED.outcome <> 'deferred'"
        " OR EXCLUDED.occurred_at >= office_campaign_messages.occurred_at)",
        merchant_id,
        message.idempotency_key,
        message.campaign_id,
        message.shipment_id,
        message.channel,
        message.outcome.value,
        message.reason,
        message.occurred_at,
    )


async def shipment_exists(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> bool:
    found = await connection.fetchval(
        "SELECT 1 FROM office_shipments WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )
    return found is not None
