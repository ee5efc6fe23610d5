"""The shipment fold: event-time order, re-sends, final states, multi-parcel orders."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from relais_contracts.topics import orders
from relais_contracts.topics.carrier_updates import UpdateSource
from relais_contracts.topics.shipment_state import ShipmentStateChanged, StateChangeCause
from relais_contracts.tracking import Incident, IncidentReason, Substatus, TrackingStatus
from relais_tracker.adapters.carriers.base import NormalizedEvent
from relais_tracker.domain.shipments import (
    BASE_ONLY_FIELDS,
    NO_PROGRESS,
    STATE_COPIED_FIELDS,
    CarrierEvent,
    Cause,
    ShipmentBase,
    advance,
    bases_of,
    cancelled,
    carrier_event_from,
    facts_of,
    progress_of,
    shipment_state,
    spliced_state_json,
    state_head,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def example(name: str) -> orders.OrderPlaced:
    event = orders.TOPIC.decode((orders.TOPIC.examples_dir() / name).read_bytes())
    assert isinstance(event, orders.OrderPlaced)
    return event


def carrier_event(hours: float, substatus: Substatus, code: str = "X") -> CarrierEvent:
    from relais_contracts.tracking import status_of

    status = status_of(substatus)
    return carrier_event_from(
        NormalizedEvent(
            tracking_number="6A23456789012",
            status=status,
            substatus=substatus,
            incident=Incident.of(IncidentReason.RECIPIENT_NOT_HOME)
            if status is TrackingStatus.FAILED_ATTEMPT
            else None,
            occurred_at=T0 + timedelta(hours=hours),
            description=f"{substatus.value} at +{hours}h",
            location=None,
            carrier_code=code,
        ),
        carrier="colissimo",
        source=UpdateSource.WEBHOOK,
        carrier_update_id=uuid4(),
    )


STORY = [
    carrier_event(0, Substatus.LABEL_CREATED, "PCH"),
    carrier_event(5, Substatus.ACCEPTED_BY_CARRIER, "PCH2"),
    carrier_event(9, Substatus.ARRIVED_AT_FACILITY, "AAR"),
    carrier_event(20, Substatus.OUT_FOR_DELIVERY_UNSPECIFIED, "MLV"),
    carrier_event(23, Substatus.RECIPIENT_ABSENT, "AVI"),
    carrier_event(44, Substatus.OUT_FOR_DELIVERY_UNSPECIFIED, "MLV"),
    carrier_event(47, Substatus.DELIVERED_TO_NEIGHBOUR, "LIV"),
]


def base() -> ShipmentBase:
    return bases_of(example("OrderPlaced-home-colissimo.json"))["ML-10452-1"]


def state(
    progress_events: list[CarrierEvent], *, the_base: ShipmentBase | None = None
) -> ShipmentStateChanged:
    return shipment_state(
        merchant_id="maison-lune",
        shipment_id="ML-10452-1",
        base=the_base or base(),
        progress=progress_of(progress_events),
        version=1,
        cause=Cause(StateChangeCause.TRACKING_EVENT, uuid4(), T0),
        produced_at=T0,
    )


def test_the_same_carrier_event_gets_the_same_id_when_re_sent() -> None:
    first = carrier_event(5, Substatus.ACCEPTED_BY_CARRIER, "PCH2")
    again = carrier_event(5, Substatus.ACCEPTED_BY_CARRIER, "PCH2")
    assert first.event_id == again.event_id
    assert first.carrier_update_id != again.carrier_update_id


def test_state_follows_the_latest_event_whatever_the_arrival_order() -> None:
    expected = progress_of(STORY)
    for shuffled in itertools.islice(itertools.permutations(STORY), 0, 5000, 97):
        assert progress_of(list(shuffled)) == expected
    assert expected.substatus is Substatus.DELIVERED_TO_NEIGHBOUR
    assert expected.failed_attempts == 1
    assert expected.status_since == T0 + timedelta(hours=47)
    assert expected.first_movement_at == T0 + timedelta(hours=5)


def test_advance_folds_newer_events_and_refuses_older_ones() -> None:
    halfway = progress_of(STORY[:4])
    assert advance(halfway, STORY[4:]) == progress_of(STORY)
    assert advance(halfway, [STORY[1]]) is None, "an older event needs the whole history"
    assert advance(NO_PROGRESS, STORY) == progress_of(STORY)


def test_status_since_is_when_the_current_status_began() -> None:
    in_transit = progress_of(STORY[:3])
    assert in_transit.status is TrackingStatus.IN_TRANSIT
    assert in_transit.status_since == T0 + timedelta(hours=5)


def test_a_delivered_shipment_is_final_with_its_delivery_time() -> None:
    snapshot = state(STORY)
    assert snapshot.final
    assert snapshot.delivered_at == T0 + timedelta(hours=47)
    assert snapshot.failed_attempts == 1
    # the merchant's shipped_at (2025) is earlier than the first carrier scan
    assert snapshot.shipped_at == base().merchant_shipped_at


def test_before_any_carrier_event_the_shipment_is_pending() -> None:
    snapshot = state([])
    assert snapshot.status is TrackingStatus.PENDING
    assert snapshot.substatus is Substatus.PENDING_UNSPECIFIED
    assert snapshot.status_since == base().placed_at
    assert not snapshot.final
    unshipped = bases_of(example("OrderPlaced-pickup-point-not-shipped-yet.json"))
    only = next(iter(unshipped.values()))
    assert state([], the_base=only).substatus is Substatus.AWAITING_SHIPMENT


def test_a_cancelled_order_makes_its_shipments_final() -> None:
    snapshot = state(STORY[:3], the_base=cancelled(base()))
    assert snapshot.final
    assert snapshot.cancelled
    assert snapshot.status is TrackingStatus.IN_TRANSIT


def test_a_pickup_point_parcel_gets_its_hold_deadline_when_it_arrives() -> None:
    order = example("OrderPlaced-pickup-point-not-shipped-yet.json")
    parcel = order.parcels[0].model_copy(
        update={"carrier": "mondial_relay", "tracking_number": "27914563"}
    )
    shipped = order.model_copy(update={"parcels": (parcel,)})
    the_base = bases_of(shipped)[parcel.shipment_id]
    ready = carrier_event(30, Substatus.READY_FOR_PICKUP, "24")
    snapshot = state([STORY[1], ready], the_base=the_base)
    assert snapshot.pickup_hold_deadline == ready.occurred_at + timedelta(days=14)
    assert state([STORY[1]], the_base=the_base).pickup_hold_deadline is None


def test_every_parcel_of_an_order_is_its_own_shipment() -> None:
    order = example("OrderPlaced-en-two-parcels.json")
    bases = bases_of(order)
    assert list(bases) == [parcel.shipment_id for parcel in order.parcels]
    assert [b.parcel_index for b in bases.values()] == [1, 2]
    assert {b.parcel_count for b in bases.values()} == {2}
    assert {b.tracking for b in bases.values()} == {
        (p.carrier, p.tracking_number.upper())
        for p in order.parcels
        if p.carrier and p.tracking_number
    }


@pytest.mark.parametrize("hours", [-1.0, 0.0])
def test_an_event_at_or_before_the_latest_one_is_handled(hours: float) -> None:
    latest = progress_of(STORY[:3])
    at = carrier_event(9 + hours, Substatus.DEPARTED_FACILITY, "DEP")
    advanced = advance(latest, [at])
    if hours < 0:
        assert advanced is None
        assert progress_of([*STORY[:3], at]).substatus is Substatus.ARRIVED_AT_FACILITY
    else:
        assert advanced is not None
        assert advanced.substatus is Substatus.DEPARTED_FACILITY


def test_outbox_headers_are_the_runtime_s_event_headers() -> None:
    import json

    from relais_runtime.kafka import event_headers
    from relais_tracker.repository import headers_json

    snapshot = state(STORY[:2])
    expected = {name: raw.decode() for name, raw in event_headers(snapshot)}
    assert json.loads(headers_json(snapshot, trace=[])) == expected


def stored_json(the_base: ShipmentBase) -> str:
    """The base's copied fields as PostgreSQL gives them back: other key order, other
    spacing (jsonb's)."""
    stored = json.loads(the_base.model_dump_json())
    jsonb_order = sorted(stored, key=lambda name: (len(name), name))
    return json.dumps({name: stored[name] for name in jsonb_order if name in STATE_COPIED_FIELDS})


@pytest.mark.parametrize("events", [[], STORY[:2], STORY[:5], STORY, [STORY[1], STORY[0]]])
@pytest.mark.parametrize(
    "order_file",
    [
        "OrderPlaced-home-colissimo.json",
        "OrderPlaced-pickup-point-not-shipped-yet.json",
        "OrderPlaced-en-two-parcels.json",
        "OrderUpdated-shipped-mondial-relay.json",
    ],
)
def test_a_spliced_state_is_the_state_built_from_the_parsed_base(
    events: list[CarrierEvent], order_file: str
) -> None:
    """The carrier path never parses a base: its states must equal the reference ones."""
    cause = Cause(StateChangeCause.TRACKING_EVENT, uuid4(), T0)
    order = orders.TOPIC.decode((orders.TOPIC.examples_dir() / order_file).read_bytes())
    assert isinstance(order, orders.OrderPlaced | orders.OrderUpdated)
    progress = progress_of(events)
    for shipment_id, shipment_base in bases_of(order).items():
        for the_base in (shipment_base, cancelled(shipment_base)):
            head = state_head(
                merchant_id="maison-lune",
                shipment_id=shipment_id,
                facts=facts_of(the_base),
                progress=progress,
                version=4,
                cause=cause,
                produced_at=T0,
            )
            spliced = ShipmentStateChanged.model_validate_json(
                spliced_state_json(head, stored_json(the_base))
            )
            assert spliced == shipment_state(
                merchant_id="maison-lune",
                shipment_id=shipment_id,
                base=the_base,
                progress=progress,
                version=4,
                cause=cause,
                produced_at=T0,
            )


def test_a_state_copies_every_base_field_but_the_merchant_s_ship_time() -> None:
    """A new base field is either copied into states or derived from: never lost."""
    assert {"merchant_shipped_at"} == BASE_ONLY_FIELDS
    assert set(ShipmentBase.model_fields) == STATE_COPIED_FIELDS | BASE_ONLY_FIELDS
