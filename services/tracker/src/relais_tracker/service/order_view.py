"""What the order API shows of an order: its state, its last snapshot and its
shipments, as the tracker knows them (it may lag the order API's own writes).

Rule: only the merchant's own orders are found; the snapshot never shows the event's
envelope (ids, times, merchant)."""

from __future__ import annotations

from typing import Any

import asyncpg

from relais_tracker import repository
from relais_tracker.domain import ENVELOPE_FIELDS


async def order_view(
    pool: asyncpg.Pool, *, merchant_id: str, order_id: str
) -> dict[str, Any] | None:
    """None when the merchant has no such order."""
    async with pool.acquire() as connection:
        order = await repository.get_order(connection, merchant_id=merchant_id, order_id=order_id)
        shipments = await repository.list_shipment_summaries(
            connection, merchant_id=merchant_id, order_id=order_id
        )
    if order is None:
        return None
    snapshot = repository.snapshot_of(order["snapshot"]) or {}
    for name in ENVELOPE_FIELDS | {"correlation_id"}:
        snapshot.pop(name, None)
    return {
        "order_id": order["order_id"],
        "state": order["state"],
        "as_of": order["as_of"].isoformat(),
        "order": snapshot or None,
        "shipments": shipments,
    }
