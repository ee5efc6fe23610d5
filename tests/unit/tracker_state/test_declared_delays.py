"""A merchant's delay declaration applied to its stored order (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from relais_contracts.shipment import DelayReason
from relais_contracts.topics import orders
from relais_tracker.domain.delays import DelayDeclaration, delay_problems, delayed_order
from relais_tracker.domain.shipments import bases_of

NOW = datetime(2025, 3, 6, 15, 20, tzinfo=UTC)


def stored() -> orders.OrderPlaced:
    path = orders.TOPIC.examples_dir() / "OrderPlaced-pickup-point-not-shipped-yet.json"
    event = orders.TOPIC.decode(path.read_bytes())
    assert isinstance(event, orders.OrderPlaced)
    return event


def declaration(**changes: object) -> DelayDeclaration:
    fields: dict[str, object] = {
        "reason": DelayReason.STOCK,
        "note": None,
        "new_ship_by": NOW + timedelta(days=4),
        "new_delivery_by": date(2025, 3, 14),
    }
    fields.update(changes)
    return DelayDeclaration(**fields)  # type: ignore[arg-type]


def test_the_declaration_replaces_the_promises_and_keeps_everything_else() -> None:
    order = stored()
    event_id = uuid4()
    updated = delayed_order(order, declaration(note="Supplier late"), event_id=event_id, now=NOW)
    assert isinstance(updated, orders.OrderUpdated)
    assert (updated.event_id, updated.occurred_at, updated.merchant_id) == (
        event_id,
        NOW,
        order.merchant_id,
    )
    assert updated.promised_ship_by == NOW + timedelta(days=4)
    assert updated.promised_delivery_by == date(2025, 3, 14)
    assert updated.delay is not None
    assert (updated.delay.reason, updated.delay.note, updated.delay.declared_at) == (
        DelayReason.STOCK,
        "Supplier late",
        NOW,
    )
    assert updated.parcels == order.parcels
    assert updated.customer == order.customer
    base = bases_of(updated)["ML-10467-1"]
    assert base.declared_delay == updated.delay
    assert base.promised_delivery_by == date(2025, 3, 14)


def test_a_date_left_out_keeps_the_old_promise() -> None:
    order = stored()
    updated = delayed_order(order, declaration(new_ship_by=None), event_id=uuid4(), now=NOW)
    assert updated.promised_ship_by == order.promised_ship_by
    assert updated.promised_delivery_by == date(2025, 3, 14)


def test_a_window_starting_after_the_new_last_day_loses_its_first_day() -> None:
    order = stored().model_copy(update={"promised_delivery_from": date(2025, 3, 10)})
    updated = delayed_order(
        order,
        declaration(new_delivery_by=date(2025, 3, 9), new_ship_by=None),
        event_id=uuid4(),
        now=NOW,
    )
    assert updated.promised_delivery_from is None


def test_problems_name_the_field() -> None:
    zone = "Europe/Paris"
    assert delay_problems(declaration(), time_zone=zone, now=NOW) == []
    none = delay_problems(
        declaration(new_ship_by=None, new_delivery_by=None), time_zone=zone, now=NOW
    )
    assert [p.field for p in none] == ["new_ship_by", "new_delivery_by"]
    past = delay_problems(
        declaration(new_ship_by=NOW - timedelta(minutes=1), new_delivery_by=date(2025, 3, 5)),
        time_zone=zone,
        now=NOW,
    )
    assert [(p.field, p.message) for p in past] == [
        ("new_ship_by", "is not in the future"),
        ("new_delivery_by", "is before today"),
    ]
    crossed = delay_problems(declaration(new_delivery_by=date(2025, 3, 8)), time_zone=zone, now=NOW)
    assert [(p.field, p.message) for p in crossed] == [("new_delivery_by", "is before new_ship_by")]
