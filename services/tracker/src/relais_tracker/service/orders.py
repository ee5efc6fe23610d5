"""Applying a merchant's order events to the order and its shipments.

Rules:
- an order event older than the stored order (by event time) changes nothing;
- an order placed or updated gives one shipment per parcel; a parcel no longer in
  the updated order becomes cancelled; the carrier events held for a parcel's
  tracking number (received before the order) are taken and recorded for it;
- a cancelled order cancels every one of its shipments;
- an erased order (relais_tracker.service.erasure) changes no more: its events are
  ignored, so a replay of the orders topic brings no personal data back;
- the tracking numbers involved are locked first (advisory locks), so holding an
  event and creating its shipment never run at the same time.

A batch of order events (OrderIntake.receive_all, one transaction) follows the same
rules with one statement per step for the whole batch: every tracking number of the
batch is locked first, in one sorted statement; an order with a single OrderPlaced or
OrderUpdated in the batch whose shipment ids and live tracking numbers no other event
of the batch names is applied set-based (OrderShipments.apply_all); the others (an
order with several events in the batch, a cancellation, a parcel shared with another
event of the batch) are applied one event at a time, in topic order, as `receive`
does, after the set-based ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_contracts.topics.orders import OrderCancelled, OrderPlaced, OrderUpdated
from relais_contracts.topics.shipment_state import StateChangeCause
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_tracker import domain, repository
from relais_tracker.domain import OrderRecord
from relais_tracker.domain.shipments import (
    NO_PROGRESS,
    CarrierEvent,
    Cause,
    Progress,
    ShipmentBase,
    bases_of,
    cancelled,
    tracking_event_recorded,
)
from relais_tracker.repository import OrderKey, ShipmentKey, ShipmentRow
from relais_tracker.service.history import EventOutcome, progress_after, record_once
from relais_tracker.service.publishing import Change, ShipmentPublisher


@dataclass(frozen=True)
class OrderParcel:
    """A shipment of the order: its facts now and its stored row (None: new)."""

    shipment_id: str
    base: ShipmentBase
    row: ShipmentRow | None


@dataclass(frozen=True)
class PlacedOrder:
    """A placed or updated order with its record and its parcels' facts, computed once."""

    event: OrderPlaced | OrderUpdated
    record: OrderRecord
    bases: dict[str, ShipmentBase]

    @classmethod
    def of(cls, event: OrderPlaced | OrderUpdated) -> PlacedOrder:
        return cls(event, domain.order_record_from(event), bases_of(event))

    @property
    def key(self) -> OrderKey:
        return self.event.merchant_id, self.event.order_id

    @property
    def cause(self) -> Cause:
        kind = (
            StateChangeCause.ORDER_PLACED
            if isinstance(self.event, OrderPlaced)
            else StateChangeCause.ORDER_UPDATED
        )
        return Cause(kind, self.event.event_id, self.event.occurred_at)

    def tracking_keys(self) -> list[str]:
        """The tracking keys of its parcels (those the order itself names: all live)."""
        return [base.tracking[1] for base in self.bases.values() if base.tracking]

    def shipment_keys(self) -> list[ShipmentKey]:
        return [(self.event.merchant_id, shipment_id) for shipment_id in self.bases]


@dataclass(frozen=True)
class Batch:
    """A batch of order events split: those applied set-based, the others one by one."""

    together: list[PlacedOrder]
    alone: list[domain.OrderEvent]
    tracking_keys: list[str]
    """Every tracking key the batch's orders name (to lock first)."""


def split_batch(events: Sequence[domain.OrderEvent]) -> Batch:
    """Pure: an order's event goes with the set-based ones when it is the order's only
    event in the batch, places or updates it, and names no shipment id and no tracking
    key that any other parcel of the batch names (else it is applied alone, in order)."""
    placed = {
        index: PlacedOrder.of(event)
        for index, event in enumerate(events)
        if not isinstance(event, OrderCancelled)
    }
    per_order = Counter((event.merchant_id, event.order_id) for event in events)
    tracking = Counter(key for order in placed.values() for key in order.tracking_keys())
    shipments = Counter(key for order in placed.values() for key in order.shipment_keys())
    together: list[PlacedOrder] = []
    alone: list[domain.OrderEvent] = []
    for index, event in enumerate(events):
        order = placed.get(index)
        if (
            order is not None
            and per_order[order.key] == 1
            and all(tracking[key] == 1 for key in order.tracking_keys())
            and all(shipments[key] == 1 for key in order.shipment_keys())
        ):
            together.append(order)
        else:
            alone.append(event)
    return Batch(together, alone, sorted(tracking))


@dataclass(frozen=True)
class OrderShipments:
    """Placed or updated orders -> their shipments, with the events held for them."""

    publisher: ShipmentPublisher
    clock: Clock

    async def apply(self, connection: DbConnection, order: OrderPlaced | OrderUpdated) -> None:
        parcels = await self._parcels(connection, order)
        held = await self._take_held(connection, order, parcels)
        records = await record_once(connection, held, outcome=EventOutcome.RECONCILED)
        keyed = [((order.merchant_id, parcel.shipment_id), parcel) for parcel in parcels]
        progress = await progress_after(
            connection,
            targets=[(key, parcel.base, _kept_progress(parcel)) for key, parcel in keyed],
            records=records,
        )
        kind = (
            StateChangeCause.ORDER_PLACED
            if isinstance(order, OrderPlaced)
            else StateChangeCause.ORDER_UPDATED
        )
        cause = Cause(kind, order.event_id, order.occurred_at)
        changes = [
            Change(key, parcel.base, progress[key], parcel.row, cause) for key, parcel in keyed
        ]
        await self.publisher.publish(connection, changes=changes, records=records)

    async def apply_all(self, connection: DbConnection, orders: Sequence[PlacedOrder]) -> None:
        """`apply` for several orders at once, one statement per step; each order at most
        once, and no shipment id or live tracking number in two of them (split_batch).
        Orders whose parcels share a stored shipment (one removes a parcel another now
        names) are applied after the others, one at a time in the given order."""
        if not orders:
            return
        parcels = await self._parcels_of(connection, orders)
        shared = _sharing(parcels)
        alone = [order for order in orders if order.key in shared]
        orders = [order for order in orders if order.key not in shared]
        wanted = [
            (order, parcel)
            for order in orders
            for parcel in parcels[order.key]
            if parcel.base.tracking is not None and not parcel.base.cancelled
        ]
        taken = await repository.delete_pending_events_of(
            connection,
            parcels=[(order.key[0], _tracked(parcel)) for order, parcel in wanted],
            unknown_merchant=UNKNOWN_MERCHANT,
        )
        now = self.clock.now()
        held = [
            tracking_event_recorded(
                event,
                merchant_id=order.key[0],
                shipment_id=parcel.shipment_id,
                order_id=order.key[1],
                produced_at=now,
            )
            for order, parcel in wanted
            for event in _distinct(taken.get(_tracked(parcel)[1], ()))
        ]
        records = await record_once(connection, held, outcome=EventOutcome.RECONCILED)
        keyed = [
            ((order.key[0], parcel.shipment_id), parcel, order)
            for order in orders
            for parcel in parcels[order.key]
        ]
        progress = await progress_after(
            connection,
            targets=[(key, parcel.base, _kept_progress(parcel)) for key, parcel, _ in keyed],
            records=records,
        )
        changes = [
            Change(key, parcel.base, progress[key], parcel.row, order.cause)
            for key, parcel, order in keyed
        ]
        await self.publisher.publish(connection, changes=changes, records=records)
        for order in alone:
            await self.apply(connection, order.event)

    @staticmethod
    async def _parcels_of(
        connection: DbConnection, orders: Sequence[PlacedOrder]
    ) -> dict[OrderKey, list[OrderParcel]]:
        """`_parcels` of each order (their tracking numbers are already locked)."""
        rows = await repository.list_orders_shipments(
            connection,
            orders=[order.key for order in orders],
            shipments=[(order.key[0], shipment) for order in orders for shipment in order.bases],
        )
        by_key = {row.key: row for row in rows}
        by_order: dict[OrderKey, list[ShipmentRow]] = {}
        for row in rows:
            by_order.setdefault((row.merchant_id, row.order_id), []).append(row)
        parcels: dict[OrderKey, list[OrderParcel]] = {}
        for order in orders:
            merchant_id = order.key[0]
            removed = [
                OrderParcel(row.shipment_id, cancelled(row.base), row)
                for row in by_order.get(order.key, ())
                if row.shipment_id not in order.bases
            ]
            parcels[order.key] = removed + [
                OrderParcel(shipment_id, base, by_key.get((merchant_id, shipment_id)))
                for shipment_id, base in order.bases.items()
            ]
        return parcels

    @staticmethod
    async def _parcels(
        connection: DbConnection, order: OrderPlaced | OrderUpdated
    ) -> list[OrderParcel]:
        """The order's parcels, after those of its stored shipments it no longer has
        (cancelled); their tracking numbers locked."""
        bases = bases_of(order)
        await repository.lock_tracking_keys(
            connection, keys=[base.tracking[1] for base in bases.values() if base.tracking]
        )
        rows = {
            row.shipment_id: row
            for row in await repository.list_shipments(
                connection,
                merchant_id=order.merchant_id,
                order_id=order.order_id,
                shipment_ids=[*bases],
            )
        }
        removed = [
            OrderParcel(shipment_id, cancelled(row.base), row)
            for shipment_id, row in rows.items()
            if shipment_id not in bases and row.order_id == order.order_id
        ]
        return removed + [
            OrderParcel(shipment_id, base, rows.get(shipment_id))
            for shipment_id, base in bases.items()
        ]

    async def _take_held(
        self,
        connection: DbConnection,
        order: OrderPlaced | OrderUpdated,
        parcels: Sequence[OrderParcel],
    ) -> list[TrackingEventRecorded]:
        """The events held for the tracking numbers of the order's live parcels, taken
        from the held events and made the parcels' own."""
        held: list[TrackingEventRecorded] = []
        for parcel in parcels:
            base = parcel.base
            if base.tracking is None or base.cancelled:
                continue
            taken = await repository.delete_pending_events(
                connection,
                tracking=base.tracking,
                merchant_id=order.merchant_id,
                unknown_merchant=UNKNOWN_MERCHANT,
            )
            held += [
                tracking_event_recorded(
                    event,
                    merchant_id=order.merchant_id,
                    shipment_id=parcel.shipment_id,
                    order_id=order.order_id,
                    produced_at=self.clock.now(),
                )
                for event in _distinct(taken)
            ]
        return held


def _sharing(parcels: dict[OrderKey, list[OrderParcel]]) -> set[OrderKey]:
    """The orders whose parcels include a shipment another order's parcels include."""
    owners: dict[ShipmentKey, set[OrderKey]] = {}
    for key, order_parcels in parcels.items():
        for parcel in order_parcels:
            owners.setdefault((key[0], parcel.shipment_id), set()).add(key)
    return {key for keys in owners.values() if len(keys) > 1 for key in keys}


def _tracked(parcel: OrderParcel) -> tuple[str, str]:
    tracking = parcel.base.tracking
    assert tracking is not None
    return tracking


def _kept_progress(parcel: OrderParcel) -> Progress | None:
    """The stored progress still valid for the parcel's facts (None: fold the history
    again, its tracking number changed)."""
    if parcel.row is None:
        return NO_PROGRESS
    return parcel.row.progress if parcel.row.base.tracking == parcel.base.tracking else None


def _distinct(events: Sequence[CarrierEvent]) -> list[CarrierEvent]:
    """One event per id, the last one given."""
    return list({event.event_id: event for event in events}.values())


@dataclass(frozen=True)
class OrderCancellation:
    """A cancelled order -> each of its shipments cancelled."""

    publisher: ShipmentPublisher

    async def cancel(self, connection: DbConnection, event: OrderCancelled) -> None:
        cause = Cause(StateChangeCause.ORDER_CANCELLED, event.event_id, event.occurred_at)
        rows = await repository.list_shipments(
            connection, merchant_id=event.merchant_id, order_id=event.order_id
        )
        changes = [
            Change(row.key, cancelled(row.base), row.progress, row, cause)
            for row in rows
            if row.order_id == event.order_id
        ]
        await self.publisher.publish(connection, changes=changes, records=[])


@dataclass(frozen=True)
class OrderIntake:
    """An order event -> the stored order, then its shipments (newest event wins)."""

    shipments: OrderShipments
    cancellation: OrderCancellation

    async def receive(self, connection: DbConnection, event: domain.OrderEvent) -> None:
        record = domain.order_record_from(event)
        stored_as_of = await repository.get_order_as_of(
            connection, merchant_id=record.merchant_id, order_id=record.order_id
        )
        if not domain.supersedes(incoming=record, stored_as_of=stored_as_of):
            return
        if stored_as_of is not None and await repository.get_order_erased(
            connection, merchant_id=record.merchant_id, order_id=record.order_id
        ):
            return  # the customer was erased (service.erasure): nothing of theirs comes back
        await repository.update_order(connection, record=record)
        if isinstance(event, OrderCancelled):
            await self.cancellation.cancel(connection, event)
        else:
            await self.shipments.apply(connection, event)

    async def receive_all(
        self, connection: DbConnection, events: Sequence[domain.OrderEvent]
    ) -> None:
        """A batch of order events (topic order) in the caller's transaction, with the
        outcome of `receive` applied to each in turn (see the module's rules)."""
        batch = split_batch(events)
        await repository.lock_tracking_keys(connection, keys=batch.tracking_keys)
        stored = await repository.list_stored_orders(
            connection, keys=[order.key for order in batch.together]
        )
        applied = [order for order in batch.together if _applies(order, stored.get(order.key))]
        await repository.update_orders(connection, records=[order.record for order in applied])
        await self.shipments.apply_all(connection, applied)
        for event in batch.alone:
            await self.receive(connection, event)


def _applies(order: PlacedOrder, stored: repository.StoredOrder | None) -> bool:
    """Not older than the stored order, and the order is not erased."""
    if stored is None:
        return True
    return domain.supersedes(incoming=order.record, stored_as_of=stored.as_of) and not stored.erased
