"""The back office's orders: projecting events into the read model, and reading it.

Rules:
- projection runs in the consumer's transaction, after the fact of the same event: the
  claim of the event id, the fact, the timeline entry and the row's derived columns
  commit together (a redelivered event is skipped whole by its claim, and the entry's
  own key makes a replay add nothing);
- each step takes the shipment's lock before it writes, then recomputes the derived
  columns from the timeline (order_repository), whatever topic it came from;
- the shipment state's tombstone erases the row and the whole timeline;
- a list page holds at most `limit` rows and cursors to the next and previous pages
  (absent at either end); a cursor not made for this merchant raises CursorError.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from relais_contracts.envelope import Event
from relais_contracts.topics import shipment_state
from relais_insights import order_repository
from relais_insights.domain.order_filters import CursorCodec, Position, ShipmentQuery
from relais_insights.domain.order_timeline import (
    ListedShipment,
    TimelineEntry,
    office_shipment,
    timeline_entry,
)
from relais_runtime.db import DbConnection


async def project_state(
    connection: DbConnection, state: shipment_state.ShipmentStateChanged
) -> None:
    merchant_id, shipment_id = state.merchant_id, state.shipment_id
    await order_repository.lock_shipment(
        connection, merchant_id=merchant_id, shipment_id=shipment_id
    )
    await order_repository.update_office_shipment(
        connection, merchant_id=merchant_id, shipment=office_shipment(state)
    )
    entry = timeline_entry(state)
    if entry is not None:
        await order_repository.create_timeline_entry(
            connection, merchant_id=merchant_id, entry=entry
        )
    await order_repository.update_derived(
        connection, merchant_id=merchant_id, shipment_id=shipment_id
    )


async def project_event(connection: DbConnection, event: Event) -> None:
    """A shipment's event joins its timeline; an order's event (keyed by order) adds
    nothing here: its steps arrive as the shipment states it causes."""
    entry = timeline_entry(event)
    if entry is None:
        return
    merchant_id = event.merchant_id
    await order_repository.lock_shipment(
        connection, merchant_id=merchant_id, shipment_id=entry.shipment_id
    )
    await order_repository.create_timeline_entry(connection, merchant_id=merchant_id, entry=entry)
    await order_repository.update_derived(
        connection, merchant_id=merchant_id, shipment_id=entry.shipment_id
    )


async def erase_shipment(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    await order_repository.lock_shipment(
        connection, merchant_id=merchant_id, shipment_id=shipment_id
    )
    await order_repository.delete_office_shipment(
        connection, merchant_id=merchant_id, shipment_id=shipment_id
    )


@dataclass(frozen=True)
class ShipmentPage:
    shipments: list[ListedShipment]
    next_cursor: str | None
    previous_cursor: str | None


@dataclass(frozen=True)
class OrderView:
    order_number: str
    order_id: str
    shipments: list[ListedShipment]
    timeline: list[TimelineEntry]


@dataclass(frozen=True)
class OfficeOrders:
    pool: asyncpg.Pool
    cursors: CursorCodec

    async def page(self, *, merchant_id: str, time_zone: str, query: ShipmentQuery) -> ShipmentPage:
        position = self.cursors.decode(merchant_id, query.cursor) if query.cursor else None
        async with self.pool.acquire() as connection:
            rows = await order_repository.list_office_shipments(
                connection,
                merchant_id=merchant_id,
                query=query,
                time_zone=time_zone,
                position=position,
                limit=query.limit + 1,
            )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        backwards = position is not None and position.before
        if backwards:
            rows.reverse()
        has_next = True if backwards else more
        has_previous = more if backwards else position is not None
        return ShipmentPage(
            shipments=rows,
            next_cursor=self._cursor(merchant_id, rows[-1], before=False)
            if has_next and rows
            else None,
            previous_cursor=self._cursor(merchant_id, rows[0], before=True)
            if has_previous and rows
            else None,
        )

    def _cursor(self, merchant_id: str, row: ListedShipment, *, before: bool) -> str:
        return self.cursors.encode(
            merchant_id, Position(row.ordered_at, row.shipment_id, before=before)
        )

    async def order(self, *, merchant_id: str, order_number: str) -> OrderView | None:
        async with self.pool.acquire() as connection:
            shipments = await order_repository.list_order_shipments(
                connection, merchant_id=merchant_id, order_number=order_number
            )
            if not shipments:
                return None
            timeline = await order_repository.list_timeline(
                connection,
                merchant_id=merchant_id,
                shipment_ids=[shipment.shipment_id for shipment in shipments],
            )
        return OrderView(
            order_number=order_number,
            order_id=shipments[0].order_id,
            shipments=shipments,
            timeline=timeline,
        )
