"""Line items travel with the shipment: the parcel's own, else the order's, never prices."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from relais_contracts.shipment import ShipmentItem
from relais_contracts.topics import orders, shipment_state
from relais_contracts.topics.shipment_state import ShipmentStateChanged, StateChangeCause
from relais_tracker.domain.shipments import NO_PROGRESS, Cause, bases_of
from relais_tracker.domain.shipments import shipment_state as state_of

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def order(name: str) -> orders.OrderPlaced:
    event = orders.TOPIC.decode((orders.TOPIC.examples_dir() / name).read_bytes())
    assert isinstance(event, orders.OrderPlaced)
    return event


def published(order_event: orders.OrderPlaced, shipment_id: str) -> ShipmentStateChanged:
    return state_of(
        merchant_id=order_event.merchant_id,
        shipment_id=shipment_id,
        base=bases_of(order_event)[shipment_id],
        progress=NO_PROGRESS,
        version=1,
        cause=Cause(StateChangeCause.ORDER_PLACED, uuid4(), T0),
        produced_at=T0,
    )


def test_a_parcel_that_lists_its_items_gets_those_with_their_pictures() -> None:
    placed = order("OrderPlaced-en-two-parcels.json")
    tent, stove = published(placed, "NW-77120-A"), published(placed, "NW-77120-B")
    assert [(i.sku, i.name, i.quantity) for i in tent.items] == [
        ("TENT-2P-LT", "Lightweight 2-person tent", 1)
    ]
    assert tent.items[0].image_url == (
        "https://cdn.northwind-outdoor.example/products/tent-2p-lt.jpg"
    )
    assert [i.sku for i in stove.items] == ["STOVE-TI"]


def test_items_carry_no_price_and_reach_the_shipment_context() -> None:
    state = published(order("OrderPlaced-home-colissimo.json"), "ML-10452-1")
    assert len(state.items) == 2
    assert all(type(item) is ShipmentItem for item in state.items)
    assert "unit_price" not in json.loads(state.model_dump_json())["items"][0]
    assert state.context().items == state.items


def test_a_parcel_without_items_gets_the_order_s_declared_items() -> None:
    placed = order("OrderPlaced-en-two-parcels.json")
    declared = (orders.LineItem(sku="GIFT", name="Gift card", quantity=2),)
    bare = placed.parcels[1].model_copy(update={"items": ()})
    placed = placed.model_copy(update={"items": declared, "parcels": (placed.parcels[0], bare)})
    assert [i.sku for i in published(placed, "NW-77120-A").items] == ["TENT-2P-LT"]
    assert [(i.sku, i.quantity) for i in published(placed, "NW-77120-B").items] == [("GIFT", 2)]


def test_without_declared_order_items_a_bare_parcel_gets_every_listed_item() -> None:
    placed = order("OrderPlaced-en-two-parcels.json")
    bare = placed.parcels[1].model_copy(update={"items": ()})
    placed = placed.model_copy(update={"parcels": (placed.parcels[0], bare)})
    assert [i.sku for i in published(placed, "NW-77120-B").items] == ["TENT-2P-LT"]


def test_a_record_written_before_items_existed_still_decodes() -> None:
    path = shipment_state.TOPIC.examples_dir() / "ShipmentStateChanged-en-order-placed.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["items"]
    decoded = shipment_state.TOPIC.decode(json.dumps(data).encode())
    assert isinstance(decoded, ShipmentStateChanged)
    assert decoded.items == ()


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example/a.jpg",
        'https://cdn.example/a.jpg" onerror="x',
        "https://cdn.example/a b.jpg",
        "javascript:alert(1)",
    ],
)
def test_an_image_url_must_be_a_plain_https_address(url: str) -> None:
    with pytest.raises(ValidationError, match="image_url"):
        ShipmentItem(sku="A", name="A", quantity=1, image_url=url)
