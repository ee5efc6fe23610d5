"""The tracker's SQL, on its own schema.

Verbs: get, get_or_create, create, update, delete, list; keyword arguments only.
"""

from __future__ import annotations

from datetime import datetime

from relais_runtime.db import DbConnection
from relais_tracker.domain import OrderRecord, OrderState


async def get_order_as_of(
    connection: DbConnection, *, merchant_id: str, order_id: str
) -> datetime | None:
    as_of: datetime | None = await connection.fetchval(
        "SELECT as_of FROM orders WHERE merchant_id = $1 AND order_id = $2 FOR UPDATE",
        merchant_id,
        order_id,
    )
    return as_of


async def update_order(connection: DbConnection, *, record: OrderRecord) -> None:
    """Create or replace the order; a cancellation keeps the last snapshot."""
    await connection.execute(
        """
        INSERT INTO orders (merchant_id, order_id, state, as_of, order_number, parcel_count,
                            snapshot)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
        ON CONFLICT (merchant_id, order_id) DO UPDATE SET
            state = EXCLUDED.state,
            as_of = EXCLUDED.as_of,
            order_number = COALESCE(EXCLUDED.order_number, orders.order_number),
            parcel_count = COALESCE(EXCLUDED.parcel_count, orders.parcel_count),
            snapshot = COALESCE(EXCLUDED.snapshot, orders.snapshot),
            updated_at = now()
        """,
        record.merchant_id,
        record.order_id,
        record.state.value,
        record.as_of,
        record.order_number,
        record.parcel_count,
        record.snapshot_json,
    )


async def get_order_state(
    connection: DbConnection, *, merchant_id: str, order_id: str
) -> OrderState | None:
    state: str | None = await connection.fetchval(
        "SELECT state FROM orders WHERE merchant_id = $1 AND order_id = $2",
        merchant_id,
        order_id,
    )
    return None if state is None else OrderState(state)
