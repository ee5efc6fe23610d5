"""Insights' SQL: facts and shipment snapshots, always scoped by the merchant."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from relais_insights.domain.facts import Fact, FactKind, ShipmentFact
from relais_runtime.db import DbConnection

SHIPMENT_COLUMNS = (
    "shipment_id, version, carrier, country, region, placed_at, shipped_at, delivered_at,"
    " delivered_day, promised_delivery_by, failed_attempts, cancelled"
)


async def create_fact(connection: DbConnection, *, merchant_id: str, fact: Fact) -> None:
    """Insert once: the same event id twice leaves one fact."""
    await connection.execute(
        "INSERT INTO facts (merchant_id, event_id, kind, shipment_id, ref_id, occurred_at, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING",
        merchant_id,
        fact.event_id,
        fact.kind,
        fact.shipment_id,
        fact.ref_id,
        fact.occurred_at,
        json.dumps(dict(fact.detail)),
    )


async def update_shipment(
    connection: DbConnection, *, merchant_id: str, shipment: ShipmentFact
) -> None:
    """Keep the newest snapshot: an older or equal version changes nothing."""
    await connection.execute(
        f"INSERT INTO shipments (merchant_id, {SHIPMENT_COLUMNS})"  # noqa: S608 (constant columns)
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT (merchant_id, shipment_id) DO UPDATE SET"
        " version = EXCLUDED.version, carrier = EXCLUDED.carrier, country = EXCLUDED.country,"
        " region = EXCLUDED.region, placed_at = EXCLUDED.placed_at,"
        " shipped_at = EXCLUDED.shipped_at, delivered_at = EXCLUDED.delivered_at,"
        " delivered_day = EXCLUDED.delivered_day,"
        " promised_delivery_by = EXCLUDED.promised_delivery_by,"
        " failed_attempts = EXCLUDED.failed_attempts, cancelled = EXCLUDED.cancelled"
        " WHERE shipments.version < EXCLUDED.version",
        merchant_id,
        shipment.shipment_id,
        shipment.version,
        shipment.carrier,
        shipment.country,
        shipment.region,
        shipment.placed_at,
        shipment.shipped_at,
        shipment.delivered_at,
        shipment.delivered_day,
        shipment.promised_delivery_by,
        shipment.failed_attempts,
        shipment.cancelled,
    )


async def delete_shipment(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    """Erasure: the snapshot goes, and the survey comments of that shipment with it."""
    await connection.execute(
        "DELETE FROM shipments WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )
    await connection.execute(
        "UPDATE facts SET detail = detail - 'comment'"
        " WHERE merchant_id = $1 AND shipment_id = $2 AND kind = 'survey_answered'",
        merchant_id,
        shipment_id,
    )


def _fact(row: Any) -> Fact:
    return Fact(
        event_id=row["event_id"],
        kind=FactKind(row["kind"]),
        shipment_id=row["shipment_id"],
        ref_id=row["ref_id"],
        occurred_at=row["occurred_at"],
        detail=json.loads(row["detail"]),
    )


async def list_facts(
    connection: DbConnection, *, merchant_id: str, since: datetime, kinds: Collection[FactKind]
) -> list[Fact]:
    rows = await connection.fetch(
        "SELECT event_id, kind, shipment_id, ref_id, occurred_at, detail FROM facts"
        " WHERE merchant_id = $1 AND occurred_at >= $2 AND kind = ANY($3::text[])",
        merchant_id,
        since,
        sorted(kinds),
    )
    return [_fact(row) for row in rows]


async def list_shipments(
    connection: DbConnection, *, merchant_id: str, since: datetime, shipment_ids: list[str]
) -> list[ShipmentFact]:
    """Parcels placed or delivered since `since`, and the named ones."""
    rows = await connection.fetch(
        f"SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE merchant_id = $1"  # noqa: S608
        " AND (placed_at >= $2 OR delivered_at >= $2 OR shipment_id = ANY($3::text[]))",
        merchant_id,
        since,
        shipment_ids,
    )
    return [ShipmentFact(**dict(row)) for row in rows]
