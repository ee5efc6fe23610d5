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

from pydantic import AwareDatetime, Field, TypeAdapter, create_model

from relais_contracts import ids
from relais_contracts.common import CustomerContact, Delivery, DeliveryMode, Money
from relais_contracts.envelope import Contract, Event
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


@dataclass(frozen=True)
class BaseFacts:
    """The facts of a base a state derives fields from; it copies the others as they
    are (STATE_COPIED_FIELDS)."""

    placed_at: datetime
    merchant_shipped_at: datetime | None
    cancelled: bool
    tracking: tuple[str, str] | None
    """(carrier, tracking key) once shipped, as ShipmentBase.tracking."""
    pickup_hold_days: int | None
    """How long the pickup point holds the parcel, for a parcel delivered to one."""


def facts_of(base: ShipmentBase) -> BaseFacts:
    point = base.delivery.pickup_point
    at_point = base.delivery.mode is DeliveryMode.PICKUP_POINT and point is not None
    return BaseFacts(
        placed_at=base.placed_at,
        merchant_shipped_at=base.merchant_shipped_at,
        cancelled=base.cancelled,
        tracking=base.tracking,
        pickup_hold_days=point.hold_days if at_point and point is not None else None,
    )


STATE_COPIED_FIELDS = frozenset(ShipmentBase.model_fields) & frozenset(
    ShipmentStateChanged.model_fields
)
"""The base's fields a state carries as they are."""
BASE_ONLY_FIELDS = frozenset(ShipmentBase.model_fields) - STATE_COPIED_FIELDS
"""The base's fields a state does not carry (it derives others from them)."""

StateHead: type[Event] = create_model(
    "StateHead",
    __base__=Event,
    **{  # type: ignore[call-overload]
        name: (field.annotation, field)
        for name, field in ShipmentStateChanged.model_fields.items()
        if name not in STATE_COPIED_FIELDS
    },
)
"""ShipmentStateChanged without the fields it copies from its base (same names, types
and rules): its identity and what the base's facts and the carrier progress give. An
Event, for its outbox row's key and headers; never published alone."""

_STATE_TYPE = {
    name: ShipmentStateChanged.model_fields[name].default
    for name in ("event_type", "schema_version")
}


def is_final_shipment(base: ShipmentBase, progress: Progress) -> bool:
    return _is_final(base.cancelled, progress)


def _is_final(cancelled: bool, progress: Progress) -> bool:
    return cancelled or (progress.substatus is not None and is_final(progress.substatus))


def _hold_deadline(facts: BaseFacts, progress: Progress) -> datetime | None:
    if (
        progress.status is not TrackingStatus.AVAILABLE_FOR_PICKUP
        or facts.pickup_hold_days is None
        or progress.status_since is None
    ):
        return None
    return progress.status_since + timedelta(days=facts.pickup_hold_days)


def _shipped_at(facts: BaseFacts, progress: Progress) -> datetime | None:
    moments = [m for m in (facts.merchant_shipped_at, progress.first_movement_at) if m is not None]
    return min(moments) if moments else None


def state_event_id(*, merchant_id: str, shipment_id: str, version: int) -> UUID:
    """A retried transaction re-creates the same state record id."""
    return ids.derived_id("shipment-state", merchant_id, shipment_id, str(version))


@dataclass(frozen=True)
class Cause:
    kind: StateChangeCause
    event_id: UUID
    occurred_at: datetime


def state_head(
    *,
    merchant_id: str,
    shipment_id: str,
    facts: BaseFacts,
    progress: Progress,
    version: int,
    cause: Cause,
    produced_at: datetime,
) -> Event:
    """The StateHead of a shipment at `version`: every field of its state but those
    copied from its base."""
    return StateHead(
        **_STATE_TYPE,
        **_head_fields(
            merchant_id=merchant_id,
            shipment_id=shipment_id,
            facts=facts,
            progress=progress,
            version=version,
            cause=cause,
            produced_at=produced_at,
        ),
    )


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
    return ShipmentStateChanged(
        **{name: getattr(base, name) for name in STATE_COPIED_FIELDS},
        **_head_fields(
            merchant_id=merchant_id,
            shipment_id=shipment_id,
            facts=facts_of(base),
            progress=progress,
            version=version,
            cause=cause,
            produced_at=produced_at,
        ),
    )


def _head_fields(
    *,
    merchant_id: str,
    shipment_id: str,
    facts: BaseFacts,
    progress: Progress,
    version: int,
    cause: Cause,
    produced_at: datetime,
) -> dict[str, object]:
    """A state's fields that are not copied from its base: its identity, and what its
    base's facts and its carrier progress give."""
    has_events = progress.status is not None and progress.substatus is not None
    if has_events:
        status, substatus = progress.status, progress.substatus
    else:
        status = TrackingStatus.PENDING
        substatus = (
            Substatus.AWAITING_SHIPMENT if facts.tracking is None else Substatus.PENDING_UNSPECIFIED
        )
    return {
        "event_id": state_event_id(
            merchant_id=merchant_id, shipment_id=shipment_id, version=version
        ),
        "occurred_at": cause.occurred_at,
        "produced_at": produced_at,
        "merchant_id": merchant_id,
        "correlation_id": shipment_id,
        "shipment_id": shipment_id,
        "version": version,
        "cause": cause.kind,
        "cause_event_id": cause.event_id,
        "status": status,
        "substatus": substatus,
        "incident": progress.incident if has_events else None,
        "status_since": (progress.status_since if has_events else None) or facts.placed_at,
        "last_event": progress.last_event,
        "shipped_at": _shipped_at(facts, progress),
        "delivered_at": progress.status_since if status is TrackingStatus.DELIVERED else None,
        "failed_attempts": progress.failed_attempts,
        "final": _is_final(facts.cancelled, progress),
        "estimated_delivery": progress.estimated_delivery,
        "pickup_hold_deadline": _hold_deadline(facts, progress),
    }


def head_status(head: Event) -> tuple[TrackingStatus, Substatus, bool]:
    """A StateHead's status, substatus and finality (the shipment row's query columns)."""
    status: TrackingStatus = getattr(head, "status")  # noqa: B009 - a StateHead field
    substatus: Substatus = getattr(head, "substatus")  # noqa: B009
    final: bool = getattr(head, "final")  # noqa: B009
    return status, substatus, final


def spliced_state_json(head: Event, copied_json: str) -> bytes:
    """The JSON of the state whose head is `head` and whose copied fields are the JSON
    object `copied_json` (the base's STATE_COPIED_FIELDS as stored), which is never
    parsed: the carrier path reads no base. Equal, once read, to the JSON of
    `shipment_state` for the same base, progress, version and cause."""
    return f"{head.model_dump_json()[:-1]}, {copied_json[1:]}".encode()


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
