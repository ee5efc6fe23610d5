"""An order's line items over HTTP -> each shipment's state on the topic carries them."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import ConsumerRecord

from relais_contracts.topics import shipment_state
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from tests.integration.tracker.conftest import StartTracker, order_body

IMAGE = "https://cdn.shop-a.example/products/lamp.jpg"


def states(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[ShipmentStateChanged]:
    decoded = [shipment_state.TOPIC.decode(r.value or b"") for r in records]
    return [s for s in decoded if isinstance(s, ShipmentStateChanged)]


async def test_each_shipment_state_carries_its_parcel_s_items_or_the_order_s(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    body = order_body(parcels=[("P-1", "RL300000001"), ("P-2", None)])
    body["parcels"][0]["items"] = [
        {"sku": "LAMP", "name": "Brass desk lamp", "quantity": 2, "image_url": IMAGE}
    ]
    body["parcels"][1]["items"] = []
    body["items"] = [{"sku": "ALL", "name": "Whole order", "quantity": 1}]
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202, placed.text

    records = await tracker.read(
        shipment_state.TOPIC.name,
        until=lambda got: {s.shipment_id for s in states(got)} >= {"P-1", "P-2"},
    )
    by_id = {s.shipment_id: s for s in states(records)}
    lamp = by_id["P-1"].items
    assert [(i.sku, i.name, i.quantity, i.image_url) for i in lamp] == [
        ("LAMP", "Brass desk lamp", 2, IMAGE)
    ]
    assert [(i.sku, i.image_url) for i in by_id["P-2"].items] == [("ALL", None)]
    raw = next(r.value for r in records if r.key == b"shop-a/P-1")
    assert raw is not None
    assert b"unit_price" not in raw, "prices stay on the orders topic"


async def test_an_image_url_that_is_not_https_is_refused_naming_the_field(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    body = order_body(parcels=[("P-1", None)])
    body["parcels"][0]["items"] = [
        {"sku": "LAMP", "name": "Lamp", "quantity": 1, "image_url": "http://x.example/a.jpg"}
    ]
    answer = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert answer.status_code == 422
    assert "image_url" in answer.text
