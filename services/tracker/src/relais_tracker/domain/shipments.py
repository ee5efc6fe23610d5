"""A shipment's story: its order's facts plus the fold of its carrier events (pure, no I/O).

Rules:
- one shipment per parcel of an order, identified by (merchant_id, shipment_id);
- a carrier event's id is `ids.tracking_event_id(...)`: a carrier re-sending the same
  event yields the same id, and the tracker holds and records it once; the event as
  recorded for one merchant's shipment has `ids.recorded_tracking_event_id(merchant,
  carrier event id)`, so two merchants following the same tracking number never publish
  the same event id (consumers are idempotent on it);
- the carrier side of the state (`Progress`) is the fold of the shipment's events in
  event-time order: the latest event by `occurred_at` gives the status; events that
  arrive in order advance the stored fold, an event older than the latest one makes
  the caller fold the whole history again (`advance` returns None);
- the published state is a pure function of the order's facts (`ShipmentBase`) and
  `Progress`: when neither changed, nothing is published; each publication bumps the
  shipment's version by one;
- a shipment carries what its parcel contains: the parcel's own items, else the
  order's (`OrderPlaced.contents`), without prices;
- a shipment is final when its substatus is final (delivered, returned...) or its
  order was cancelled, or its parcel was removed from the order;
- a parcel's carrier is stored as its Relais code (relais_tracker.adapters.carriers.aliases:
  `laposte` is `colissimo`); a parcel that names none has the carrier its tracking
  number's format names with certainty, else `generic`; a carrier event matches a
  shipment with the same tracking number (case-insensitive) and a compatible carrier
  (`compatible_carriers`): the same one, or either side `generic` (a carrier nobody
  named); an event of no named carrier that fits parcels of several carriers goes to
  those its number's formats point to (`narrowed_by_number`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter

from relais_contracts import ids
from relais_contracts.common import CustomerContact, Delivery, DeliveryMode, Money
from relais_contracts.envelope import Contract
from relais_contracts.shipment import DeclaredDelay, ShipmentItem
from relais_contracts.topics.carrier_updates import UpdateSource
from relais_contracts.topics.orders import LineItem, OrderPlaced, OrderUpdated, Parcel
from relais_contracts.topics.shipment_state import (
    LastTrackingEvent,
    ShipmentStateChanged,
    StateChangeCause,
)
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_contracts.tracking import (
    DeliveryEstimate,
    Incident,
    Location,
    Substatus,
    TrackingStatus,
    is_final,
)
from relais_tracker.adapters.carriers.aliases import GENERIC, carrier_code
from relais_tracker.adapters.carriers.base import NormalizedEvent
from relais_tracker.domain.tracking_numbers import candidates, carrier_of

NOT_MOVING = frozenset({TrackingStatus.PENDING, TrackingStatus.INFO_RECEIVED})
"""Statuses that do not mean the parcel left the merchant (label data only)."""


def tracking_key(tracking_number: str) -> str:
    """Tracking numbers are matched case-insensitively (as ids.tracking_event_id does)."""
    return tracking_number.upper()


def compatible_carriers(event_carrier: str, parcel_carrier: str) -> bool:
    """Whether an event of `event_carrier` may belong to a parcel of `parcel_carrier`
    (both Relais codes): the same carrier, or one of them not named (`generic`)."""
    return event_carrier == parcel_carrier or GENERIC in (event_carrier, parcel_carrier)


def parcel_carrier(name: str | None, tracking_number: str | None = None) -> str | None:
    """A parcel's carrier as its Relais code (the alias table's), else as given; a parcel
    with a tracking number and no carrier gets the carrier its number's format names
    with certainty (domain.tracking_numbers.carrier_of), else `generic` (any carrier)."""
    if name is None:
        if tracking_number is None:
            return None
        return carrier_of(tracking_number) or GENERIC
    return carrier_code(name) or name


def narrowed_by_number(
    event_carrier: str, tracking_number: str, parcel_carriers: Collection[str]
) -> set[str]:
    """The parcel carriers an event may belong to: those compatible with its carrier,
    and, when an event of no named carrier (`generic`) fits parcels of several carriers,
    those its tracking number's formats point to (domain.tracking_numbers.candidates),
    if any do."""
    compatible = {c for c in parcel_carriers if compatible_carriers(event_carrier, c)}
    if event_carrier != GENERIC or len(compatible - {GENERIC}) < 2:
        return compatible
    hinted = {c for c in compatible if c == GENERIC or c in candidates(tracking_number)}
    return hinted if hinted - {GENERIC} else compatible


@dataclass(frozen=True)
class CarrierEvent:
    """One normalized carrier event with its identity, as the tracker records it."""

    event_id: UUID
    carrier: str
    tracking_number: str
    status: TrackingStatus
    substatus: Substatus
    incident: Incident | None
    occurred_at: datetime
    description: str
    location: Location | None
    carrier_code: str
    carrier_reason_code: str | None
    code_recognized: bool
    estimated_delivery: DeliveryEstimate | None
    source: UpdateSource
    carrier_update_id: UUID | None

    @property
    def tracking_key(self) -> str:
        return tracking_key(self.tracking_number)


CARRIER_EVENT_JSON: TypeAdapter[CarrierEvent] = TypeAdapter(CarrierEvent)


def carrier_event_from(
    event: NormalizedEvent, *, carrier: str, source: UpdateSource, carrier_update_id: UUID | None
) -> CarrierEvent:
    return CarrierEvent(
        event_id=ids.tracking_event_id(
            carrier, event.tracking_number, event.carrier_code, event.occurred_at
        ),
        carrier=carrier,
        tracking_number=event.tracking_number,
        status=event.status,
        substatus=event.substatus,
        incident=event.incident,
        occurred_at=event.occurred_at,
        description=event.description[:500],
        location=event.location,
        carrier_code=event.carrier_code,
        carrier_reason_code=event.carrier_reason_code,
        code_recognized=event.code_recognized,
        estimated_delivery=event.estimated_delivery,
        source=source,
        carrier_update_id=carrier_update_id,
    )


def carrier_event_of_record(record: TrackingEventRecorded) -> CarrierEvent:
    return CarrierEvent(
        event_id=record.event_id,
        carrier=record.carrier,
        tracking_number=record.tracking_number,
        status=record.status,
        substatus=record.substatus,
        incident=record.incident,
        occurred_at=record.occurred_at,
        description=record.description,
        location=record.location,
        carrier_code=record.carrier_code,
        carrier_reason_code=record.carrier_reason_code,
        code_recognized=record.code_recognized,
        estimated_delivery=record.estimated_delivery,
        source=record.source,
        carrier_update_id=record.carrier_update_id,
    )


def distinct_events(events: Iterable[CarrierEvent]) -> list[CarrierEvent]:
    """The first occurrence of each event id, in the given order."""
    seen: dict[UUID, CarrierEvent] = {}
    for event in events:
        seen.setdefault(event.event_id, event)
    return list(seen.values())


class ShipmentBase(Contract):
    """What the order says about one parcel."""

    order_id: str
    order_number: str
    parcel_index: int = Field(ge=1)
    parcel_count: int = Field(ge=1)
    placed_at: AwareDatetime
    order_value: Money | None = None
    cancelled: bool = False
    carrier: str | None = None
    tracking_number: str | None = None
    merchant_shipped_at: AwareDatetime | None = None
    promised_ship_by: AwareDatetime | None = None
    promised_delivery_from: date | None = None
    promised_delivery_by: date | None = None
    delivery: Delivery
    customer: CustomerContact
    items: tuple[ShipmentItem, ...] = ()
    declared_delay: DeclaredDelay | None = None

    @property
    def tracking(self) -> tuple[str, str] | None:
        """(carrier, tracking key) when the parcel has shipped."""
        if self.carrier is None or self.tracking_number is None:
            return None
        return self.carrier, tracking_key(self.tracking_number)


def _shown_items(items: Iterable[LineItem]) -> tuple[ShipmentItem, ...]:
    return tuple(
        ShipmentItem(sku=i.sku, name=i.name, quantity=i.quantity, image_url=i.image_url)
        for i in items
    )


def parcel_items(order: OrderPlaced | OrderUpdated, parcel: Parcel) -> tuple[ShipmentItem, ...]:
    """What the parcel contains: its own items, else the order's."""
    return _shown_items(parcel.items or order.contents())


def bases_of(order: OrderPlaced | OrderUpdated) -> dict[str, ShipmentBase]:
    """One base per parcel, by shipment id, in the order's parcel order."""
    count = len(order.parcels)
    return {
        parcel.shipment_id: ShipmentBase(
            order_id=order.order_id,
            order_number=order.order_number,
            parcel_index=index,
            parcel_count=count,
            placed_at=order.placed_at,
            order_value=order.order_value,
            carrier=parcel_carrier(parcel.carrier, parcel.tracking_number),
            tracking_number=parcel.tracking_number,
            merchant_shipped_at=parcel.shipped_at,
            promised_ship_by=order.promised_ship_by,
            promised_delivery_from=order.promised_delivery_from,
            promised_delivery_by=order.promised_delivery_by,
            delivery=order.delivery,
            customer=order.customer,
            items=parcel_items(order, parcel),
            declared_delay=order.delay,
        )
        for index, parcel in enumerate(order.parcels, start=1)
    }


def cancelled(base: ShipmentBase) -> ShipmentBase:
    return base.model_copy(update={"cancelled": True})


class Progress(Contract):
    """The fold of a shipment's carrier events in event-time order (empty: no event yet)."""

    status: TrackingStatus | None = None
    substatus: Substatus | None = None
    incident: Incident | None = None
    status_since: AwareDatetime | None = None
    last_event: LastTrackingEvent | None = None
    first_movement_at: AwareDatetime | None = None
    failed_attempts: int = 0
    estimated_delivery: DeliveryEstimate | None = None


NO_PROGRESS = Progress()


def _fold(progress: Progress, ordered: Sequence[CarrierEvent]) -> Progress:
    """`progress` followed by `ordered` (events in event-time order)."""
    if not ordered:
        return progress
    status, status_since = progress.status, progress.status_since
    first_movement_at = progress.first_movement_at
    failed_attempts = progress.failed_attempts
    estimate = progress.estimated_delivery
    for event in ordered:
        if status is not event.status or status_since is None:
            status, status_since = event.status, event.occurred_at
        if event.status not in NOT_MOVING and (
            first_movement_at is None or event.occurred_at < first_movement_at
        ):
            first_movement_at = event.occurred_at
        if event.status is TrackingStatus.FAILED_ATTEMPT:
            failed_attempts += 1
        estimate = event.estimated_delivery or estimate
    last = ordered[-1]
    # Validated: pydantic-core checks these few fields faster than model_construct
    # copies them in Python.
    return Progress(
        status=last.status,
        substatus=last.substatus,
        incident=last.incident,
        status_since=status_since,
        last_event=LastTrackingEvent(
            event_id=last.event_id,
            occurred_at=last.occurred_at,
            status=last.status,
            substatus=last.substatus,
            carrier_code=last.carrier_code,
            description=last.description,
            location=last.location,
        ),
        first_movement_at=first_movement_at,
        failed_attempts=failed_attempts,
        estimated_delivery=estimate,
    )


def in_event_time_order(events: Iterable[CarrierEvent]) -> list[CarrierEvent]:
    """Stable: events of the same instant keep the order they were recorded in."""
    return sorted(events, key=lambda event: event.occurred_at)


def progress_of(events: Sequence[CarrierEvent]) -> Progress:
    """Fold a shipment's whole history (any order)."""
    return _fold(NO_PROGRESS, in_event_time_order(events))


def advance(progress: Progress, new_events: Sequence[CarrierEvent]) -> Progress | None:
    """Fold events newer than the latest one into `progress`; None when one of them is
    older than the latest event (the caller folds the whole history instead)."""
    ordered = in_event_time_order(new_events)
    latest = progress.last_event
    if ordered and latest is not None and ordered[0].occurred_at < latest.occurred_at:
        return None
    return _fold(progress, ordered)


def is_final_shipment(base: ShipmentBase, progress: Progress) -> bool:
    return base.cancelled or (progress.substatus is not None and is_final(progress.substatus))


def _pending_substatus(base: ShipmentBase) -> Substatus:
    return Substatus.AWAITING_SHIPMENT if base.tracking is None else Substatus.PENDING_UNSPECIFIED


def _hold_deadline(base: ShipmentBase, progress: Progress) -> datetime | None:
    point = base.delivery.pickup_point
    if (
        progress.status is not TrackingStatus.AVAILABLE_FOR_PICKUP
        or base.delivery.mode is not DeliveryMode.PICKUP_POINT
        or point is None
        or point.hold_days is None
        or progress.status_since is None
    ):
        return None
    return progress.status_since + timedelta(days=point.hold_days)


def _shipped_at(base: ShipmentBase, progress: Progress) -> datetime | None:
    moments = [m for m in (base.merchant_shipped_at, progress.first_movement_at) if m is not None]
    return min(moments) if moments else None


def state_event_id(*, merchant_id: str, shipment_id: str, version: int) -> UUID:
    """A retried transaction re-creates the same state record id."""
    return ids.derived_id("shipment-state", merchant_id, shipment_id, str(version))


@dataclass(frozen=True)
class Cause:
    kind: StateChangeCause
    event_id: UUID
    occurred_at: datetime


def shipment_state(
    *,
    merchant_id: str,
    shipment_id: str,
    base: ShipmentBase,
    progress: Progress,
    version: int,
    cause: Cause,
    produced_at: datetime,
) -> ShipmentStateChanged:
    """The full snapshot published for a shipment at `version`."""
    has_events = progress.status is not None and progress.substatus is not None
    status = progress.status if has_events else TrackingStatus.PENDING
    substatus = progress.substatus if has_events else _pending_substatus(base)
    assert status is not None
    assert substatus is not None
    delivered = status is TrackingStatus.DELIVERED
    return ShipmentStateChanged(
        event_id=state_event_id(merchant_id=merchant_id, shipment_id=shipment_id, version=version),
        occurred_at=cause.occurred_at,
        produced_at=produced_at,
        merchant_id=merchant_id,
        correlation_id=shipment_id,
        shipment_id=shipment_id,
        version=version,
        cause=cause.kind,
        cause_event_id=cause.event_id,
        order_id=base.order_id,
        order_number=base.order_number,
        parcel_index=base.parcel_index,
        parcel_count=base.parcel_count,
        placed_at=base.placed_at,
        order_value=base.order_value,
        cancelled=base.cancelled,
        items=base.items,
        carrier=base.carrier,
        tracking_number=base.tracking_number,
        status=status,
        substatus=substatus,
        incident=progress.incident if has_events else None,
        status_since=(progress.status_since if has_events else None) or base.placed_at,
        last_event=progress.last_event,
        shipped_at=_shipped_at(base, progress),
        delivered_at=progress.status_since if delivered else None,
        failed_attempts=progress.failed_attempts,
        final=is_final_shipment(base, progress),
        promised_ship_by=base.promised_ship_by,
        promised_delivery_from=base.promised_delivery_from,
        promised_delivery_by=base.promised_delivery_by,
        estimated_delivery=progress.estimated_delivery,
        declared_delay=base.declared_delay,
        delivery=base.delivery,
        pickup_hold_deadline=_hold_deadline(base, progress),
        customer=base.customer,
    )


def tracking_event_recorded(
    event: CarrierEvent, *, merchant_id: str, shipment_id: str, order_id: str, produced_at: datetime
) -> TrackingEventRecorded:
    return TrackingEventRecorded(
        event_id=ids.recorded_tracking_event_id(merchant_id, event.event_id),
        occurred_at=event.occurred_at,
        produced_at=produced_at,
        merchant_id=merchant_id,
        correlation_id=shipment_id,
        shipment_id=shipment_id,
        order_id=order_id,
        carrier=event.carrier,
        tracking_number=event.tracking_number,
        status=event.status,
        substatus=event.substatus,
        incident=event.incident,
        description=event.description,
        location=event.location,
        carrier_code=event.carrier_code,
        carrier_reason_code=event.carrier_reason_code,
        code_recognized=event.code_recognized,
        estimated_delivery=event.estimated_delivery,
        source=event.source,
        carrier_update_id=event.carrier_update_id,
    )
