"""The rules the models enforce when a producer builds a message."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from contracts_examples import EXAMPLES
from pydantic import ValidationError

from relais_contracts import ids
from relais_contracts.actions import ActionType, RefundRequest
from relais_contracts.common import (
    CustomerContact,
    Delivery,
    DeliveryMode,
    Money,
    PostalAddress,
    TimeSlot,
)
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.conversations import Answer, AnswerKind, ResolutionChosen
from relais_contracts.topics.orders import OrderPlaced, Parcel
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_contracts.tracking import DeliveryEstimate, Substatus, TrackingStatus

ADDRESS = PostalAddress(line1="12 rue des Lilas", postal_code="69003", city="Lyon", country="FR")


def _data(event_type: str, variant: str = "") -> dict[str, Any]:
    return next(e.data for e in EXAMPLES if e.event_type == event_type and variant in e.path.stem)


def test_money_is_a_decimal_string() -> None:
    money = Money(amount=Decimal("129.90"), currency="EUR")
    assert json.loads(money.model_dump_json()) == {"amount": "129.90", "currency": "EUR"}
    with pytest.raises(ValidationError):
        Money(amount=Decimal("-1"), currency="EUR")
    with pytest.raises(ValidationError):
        Money(amount=Decimal("1.00"), currency="eur")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "0612345678"),
        ("phone", "+33 6 12 34 56 78"),
        ("email", "camille.durand"),
        ("locale", "french"),
        ("time_zone", "Europe/Lyon"),
        ("time_zone", "+01:00"),
    ],
)
def test_contact_rejects_malformed_values(field: str, value: str) -> None:
    base: dict[str, Any] = {"locale": "fr-FR", "time_zone": "Europe/Paris"}
    with pytest.raises(ValidationError):
        CustomerContact(**{**base, field: value})


def test_contact_accepts_well_formed_values() -> None:
    contact = CustomerContact(
        email="oliver.bennett@example.co.uk",
        phone="+447700900123",
        locale="en-GB",
        time_zone="America/Argentina/Buenos_Aires",
    )
    assert contact.first_name is None


def test_delivery_mode_needs_its_destination() -> None:
    with pytest.raises(ValidationError, match="needs an address"):
        Delivery(mode=DeliveryMode.HOME)
    with pytest.raises(ValidationError, match="needs a pickup_point"):
        Delivery(mode=DeliveryMode.PICKUP_POINT, address=ADDRESS)
    assert Delivery(mode=DeliveryMode.HOME, address=ADDRESS).pickup_point is None


def test_parcel_carrier_and_tracking_number_go_together() -> None:
    with pytest.raises(ValidationError, match="both or neither"):
        Parcel(shipment_id="S-1", carrier="colissimo")
    assert Parcel(shipment_id="S-1").tracking_number is None


def test_order_rejects_duplicate_shipments_and_backwards_promise() -> None:
    data = _data("OrderPlaced")
    with pytest.raises(ValidationError, match="share a shipment_id"):
        OrderPlaced.model_validate({**data, "parcels": [data["parcels"][0]] * 2})
    with pytest.raises(ValidationError, match="promised_delivery_from"):
        OrderPlaced.model_validate(
            {**data, "promised_delivery_from": "2025-03-20", "promised_delivery_by": "2025-03-12"}
        )


def test_order_is_keyed_by_order() -> None:
    order = OrderPlaced.model_validate(_data("OrderPlaced"))
    assert order.partition_key() == f"{order.merchant_id}/{order.order_id}".encode()


def test_times_must_carry_an_offset() -> None:
    data = {**_data("TrackingEventRecorded"), "occurred_at": "2025-03-05T07:52:00"}
    with pytest.raises(ValidationError):
        TrackingEventRecorded.model_validate(data)


def test_substatus_must_belong_to_status() -> None:
    data = {**_data("TrackingEventRecorded"), "status": "delivered"}
    with pytest.raises(ValidationError, match="belongs to status"):
        TrackingEventRecorded.model_validate(data)


def test_state_final_flag_follows_the_substatus() -> None:
    data = _data("ShipmentStateChanged")
    with pytest.raises(ValidationError, match="not final"):
        ShipmentStateChanged.model_validate({**data, "final": True})
    delivered = ShipmentStateChanged.model_validate(
        {**data, "status": "delivered", "substatus": "signed_for", "final": True}
    )
    assert delivered.final


def test_state_context_has_no_personal_data() -> None:
    state = ShipmentStateChanged.model_validate(_data("ShipmentStateChanged"))
    context = state.context()
    assert isinstance(context, ShipmentContext)
    text = context.model_dump_json()
    assert state.customer.email is None or state.customer.email not in text
    assert context.order_number == state.order_number


def test_answer_sets_exactly_its_field() -> None:
    assert Answer(kind=AnswerKind.CHOICE, choice_id="reship").choice_id == "reship"
    with pytest.raises(ValidationError, match="exactly"):
        Answer(kind=AnswerKind.CHOICE, text="reship")
    with pytest.raises(ValidationError, match="exactly"):
        Answer(kind=AnswerKind.PHONE, phone="+33612345678", text="x")


def test_resolution_action_iff_execute() -> None:
    data = _data("ResolutionChosen", "reship")
    with pytest.raises(ValidationError, match="exactly when"):
        ResolutionChosen.model_validate({**data, "action": None})
    with pytest.raises(ValidationError, match="exactly when"):
        ResolutionChosen.model_validate({**data, "outcome": "wait"})


def test_action_request_is_discriminated() -> None:
    data = _data("ExecuteAction")
    refund = {"action": "refund", "amount": {"amount": "35.00", "currency": "GBP"}}
    command = ExecuteAction.model_validate({**data, "request": refund})
    assert isinstance(command.request, RefundRequest)
    assert command.action_type is ActionType.REFUND
    with pytest.raises(ValidationError):
        ExecuteAction.model_validate({**data, "request": {"action": "teleport"}})


def test_time_slot_and_estimate_are_ordered() -> None:
    start = datetime(2025, 3, 13, 17, tzinfo=UTC)
    with pytest.raises(ValidationError):
        TimeSlot(start=start, end=start)
    with pytest.raises(ValidationError):
        DeliveryEstimate(day=date(2025, 3, 13), window_start=start, window_end=start)


def test_models_are_frozen() -> None:
    money = Money(amount=Decimal("1"), currency="EUR")
    with pytest.raises(ValidationError):
        money.amount = Decimal("2")  # type: ignore[misc]


def test_tracking_event_id_is_stable_across_offsets() -> None:
    paris = datetime(2025, 3, 5, 7, 52, tzinfo=timezone(timedelta(hours=1)))
    utc = paris.astimezone(UTC)
    assert ids.tracking_event_id("colissimo", "6a23456789012", "MD2", paris) == (
        ids.tracking_event_id("colissimo", "6A23456789012", "MD2", utc)
    )
    assert ids.tracking_event_id("colissimo", "6A23456789012", "MD2", paris) != (
        ids.tracking_event_id("colissimo", "6A23456789012", "DI1", paris)
    )


def test_derived_ids_are_deterministic_and_distinct() -> None:
    first = ids.anomaly_id("maison-lune", "S-1", "lost")
    assert first == ids.anomaly_id("maison-lune", "S-1", "lost")
    assert first != ids.anomaly_id("maison-lune", "S-1", "lost", occurrence=2)
    assert first != ids.anomaly_id("other-shop", "S-1", "lost")
    assert ids.derived_id("k", "a", "bc") != ids.derived_id("k", "ab", "c")
    key = ids.notification_key(first, "email")
    assert ids.notification_id(key) == ids.notification_id(ids.notification_key(first, "email"))
    assert key != ids.notification_key(first, "sms")


def test_status_enums_serialize_as_plain_strings() -> None:
    data = _data("TrackingEventRecorded")
    event = TrackingEventRecorded.model_validate(data)
    assert event.status is TrackingStatus(data["status"])
    assert event.substatus is Substatus(data["substatus"])
    assert json.loads(event.model_dump_json())["status"] == data["status"]
