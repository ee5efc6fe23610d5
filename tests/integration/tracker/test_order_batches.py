"""The orders consumer's batch path (OrderIntake.receive_all) against the per-order path.

The same history is applied to two fresh schemas of the real PostgreSQL: one event at a
time with `receive` (the reference), and as one batch with `receive_all`. The stored
orders, shipments, recorded and held carrier events and the outbox must be the same,
on a batch that mixes placed, updated and cancelled events of one order, an order
taking its held carrier events, an erased order, an older event and a parcel removed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from relais_contracts.topics import orders, shipment_state, tracking_events
from relais_contracts.topics.carrier_updates import UpdateSource
from relais_contracts.topics.orders import OrderCancelled, OrderPlaced, OrderUpdated
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_runtime.clock import ManualClock
from relais_runtime.db import create_pool
from relais_runtime.migrations import migrate
from relais_tracker import repository
from relais_tracker.bootstrap import build_spec
from relais_tracker.domain import OrderEvent
from relais_tracker.domain.shipments import CarrierEvent
from relais_tracker.service.orders import (
    OrderCancellation,
    OrderIntake,
    OrderShipments,
    split_batch,
)
from relais_tracker.service.publishing import ShipmentPublisher
from tests.conftest import Infrastructure, drop_schemas

MERCHANT = "shop-a"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def example() -> OrderPlaced:
    event = orders.TOPIC.decode(
        (orders.TOPIC.examples_dir() / "OrderPlaced-en-two-parcels.json").read_bytes()
    )
    assert isinstance(event, OrderPlaced)
    return event


EXAMPLE = example()


def placed(order_id: str, *tracking: str, at: datetime = T0) -> OrderPlaced:
    """An order of one parcel per tracking number (DPD)."""
    parcel = EXAMPLE.parcels[0]
    parcels = tuple(
        parcel.model_copy(
            update={"shipment_id": f"{order_id}-{n}", "carrier": "dpd", "tracking_number": number}
        )
        for n, number in enumerate(tracking, start=1)
    )
    return EXAMPLE.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "merchant_id": MERCHANT,
            "order_id": order_id,
            "correlation_id": order_id,
            "occurred_at": at,
            "parcels": parcels,
        }
    )


def updated(order_id: str, *tracking: str, at: datetime) -> OrderUpdated:
    fields = placed(order_id, *tracking, at=at).model_dump()
    return OrderUpdated.model_validate({**fields, "event_type": "OrderUpdated"})


def moved(order_id: str, shipment_id: str, tracking_number: str) -> OrderPlaced:
    """An order naming a shipment id another order had."""
    order = placed(order_id, tracking_number)
    parcel = order.parcels[0].model_copy(update={"shipment_id": shipment_id})
    return order.model_copy(update={"parcels": (parcel,)})


def cancelled(order_id: str, *, at: datetime) -> OrderCancelled:
    return OrderCancelled(
        event_id=uuid.uuid4(),
        merchant_id=MERCHANT,
        correlation_id=order_id,
        occurred_at=at,
        produced_at=at,
        order_id=order_id,
    )


def held_event(tracking_number: str, minutes: int) -> CarrierEvent:
    return CarrierEvent(
        event_id=uuid.uuid4(),
        carrier="dpd",
        tracking_number=tracking_number,
        status=TrackingStatus.IN_TRANSIT,
        substatus=Substatus.ARRIVED_AT_FACILITY,
        incident=None,
        occurred_at=T0 + timedelta(minutes=minutes),
        description="Arrived at the depot",
        location=None,
        carrier_code="ARR",
        carrier_reason_code=None,
        code_recognized=True,
        estimated_delivery=None,
        source=UpdateSource.WEBHOOK,
        carrier_update_id=None,
    )


@dataclass
class Store:
    pool: asyncpg.Pool
    intake: OrderIntake


@pytest.fixture
async def stores(infrastructure: Infrastructure) -> AsyncIterator[tuple[Store, Store]]:
    """Two migrated schemas, each with its own intake on the same manual clock."""
    names = [f"test_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    clock = ManualClock(T0 + timedelta(days=1))
    made = []
    for name in names:
        await migrate(
            database_url=infrastructure.database_url,
            schema=name,
            versions_dir=build_spec().migrations_dir,
        )
        publisher = ShipmentPublisher(
            tracking_events=tracking_events.TOPIC, shipment_state=shipment_state.TOPIC, clock=clock
        )
        intake = OrderIntake(
            shipments=OrderShipments(publisher=publisher, clock=clock),
            cancellation=OrderCancellation(publisher=publisher),
        )
        pool = await create_pool(database_url=infrastructure.database_url, schema=name)
        made.append(Store(pool, intake))
    yield made[0], made[1]
    for store in made:
        await store.pool.close()
    await drop_schemas(infrastructure.database_url, names)


async def one_by_one(store: Store, events: Sequence[OrderEvent]) -> None:
    async with store.pool.acquire() as connection, connection.transaction():
        for event in events:
            await store.intake.receive(connection, event)


async def as_batch(store: Store, events: Sequence[OrderEvent]) -> None:
    async with store.pool.acquire() as connection, connection.transaction():
        await store.intake.receive_all(connection, events)


async def hold(store: Store, events: Sequence[CarrierEvent]) -> None:
    async with store.pool.acquire() as connection:
        await repository.create_pending_events(
            connection, events=[("unknown", event) for event in events], received_at=T0
        )


async def erase(store: Store, order_id: str) -> None:
    async with store.pool.acquire() as connection:
        await repository.update_orders_erased(
            connection, merchant_id=MERCHANT, order_ids=[order_id], erased_at=T0
        )


async def contents(store: Store) -> dict[str, Any]:
    """What the tracker stores, without the columns stamped by the database's clock."""
    queries = {
        "orders": "SELECT merchant_id, order_id, state, as_of, order_number, parcel_count,"
        " snapshot::text, erased_at FROM orders ORDER BY order_id",
        "shipments": "SELECT merchant_id, shipment_id, order_id, carrier, tracking_key, version,"
        " status, substatus, final, base::text, progress::text FROM shipments"
        " ORDER BY shipment_id",
        "recorded": "SELECT merchant_id, shipment_id, event_id, record::text FROM tracking_events"
        " ORDER BY shipment_id, event_id",
        "held": "SELECT tracking_key, event_id FROM pending_tracking_events"
        " ORDER BY tracking_key, event_id",
        "outbox": "SELECT topic, event_id, key, value::text FROM outbox ORDER BY topic, event_id",
    }
    async with store.pool.acquire() as connection:
        return {
            name: [tuple(row) for row in await connection.fetch(sql)]
            for name, sql in queries.items()
        }


async def test_a_batch_stores_what_the_events_one_by_one_store(
    stores: tuple[Store, Store],
) -> None:
    reference, batched = stores
    later = T0 + timedelta(hours=1)
    held = [held_event("HELD0001", 5), held_event("HELD0001", 9)]
    history: list[OrderEvent] = [
        placed("ERASED", "ERASED01"),
        placed("NEWER", "NEWER001", at=later),
        placed("SHRINKS", "SHRINK01", "SHRINK02"),
    ]
    batch: list[OrderEvent] = [
        placed("HELD", "HELD0001"),
        placed("MIXED", "MIXED001", "MIXED002"),
        updated("ERASED", "ERASED01", "ERASED02", at=later),
        updated("MIXED", "MIXED001", at=later),
        updated("NEWER", "NEWER001", "NEWER002", at=T0),
        placed("PLAIN", "PLAIN001"),
        updated("SHRINKS", "SHRINK01", at=later),
        moved("TAKER", "SHRINKS-2", "TAKER001"),
        cancelled("MIXED", at=later + timedelta(minutes=1)),
        placed("GONE", "GONE0001"),
        cancelled("GONE", at=later),
    ]
    for store in stores:
        await hold(store, held)
        await one_by_one(store, history)
        await erase(store, "ERASED")

    await one_by_one(reference, batch)
    await as_batch(batched, batch)

    expected, got = await contents(reference), await contents(batched)
    assert got == expected
    shipments = {row[1]: row for row in got["shipments"]}
    assert shipments["HELD-1"][6] == "in_transit"  # took its two held events
    assert len([row for row in got["recorded"] if row[1] == "HELD-1"]) == 2
    assert got["held"] == []
    assert {name for name in shipments if name.startswith("ERASED")} == {"ERASED-1"}
    assert "NEWER-2" not in shipments  # the older update changed nothing
    cancelled_now = {name for name, row in shipments.items() if is_cancelled(row)}
    assert cancelled_now == {"MIXED-1", "MIXED-2", "GONE-1"}
    assert shipments["SHRINKS-2"][2] == "TAKER"  # cancelled by SHRINKS, then TAKER's
    assert shipments["SHRINKS-2"][5] == 3


def is_cancelled(row: tuple[Any, ...]) -> bool:
    return bool(json.loads(row[9])["cancelled"])


def test_only_an_order_alone_in_the_batch_with_its_own_parcels_is_set_based() -> None:
    batch: list[OrderEvent] = [
        placed("A", "TN000001"),
        placed("B", "TN000002"),
        updated("B", "TN000002", at=T0 + timedelta(hours=1)),
        placed("C", "TN000003"),
        placed("D", "TN000003"),
        cancelled("E", at=T0),
        placed("F", "TN000006", "TN000006"),
    ]
    split = split_batch(batch)
    assert [order.key[1] for order in split.together] == ["A"]
    assert [event.order_id for event in split.alone] == ["B", "B", "C", "D", "E", "F"]
    assert split.tracking_keys == sorted({"TN000001", "TN000002", "TN000003", "TN000006"})
