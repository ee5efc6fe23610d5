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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_contracts.topics.orders import OrderCancelled, OrderPlaced, OrderUpdated
from relais_contracts.topics.shipment_state import StateChangeCause
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_tracker import domain, repository
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
from relais_tracker.repository import ShipmentRow
from relais_tracker.service.history import EventOutcome, progress_after, record_once
from relais_tracker.service.publishing import Change, ShipmentPublisher


@dataclass(frozen=True)
class OrderParcel:
    """A shipment of the order: its facts now and its stored row (None: new)."""

    shipment_id: str
    base: ShipmentBase
    row: ShipmentRow | None


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
        await self.publisher.publish(connection, changes=changes, records=records, whole_rows=True)

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
        await self.publisher.publish(connection, changes=changes, records=[], whole_rows=True)


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
