"""The order API: API key per merchant, tenant isolation, validation, publication."""

from __future__ import annotations

from typing import Any

from relais_contracts.topics import orders
from tests.integration.conftest import eventually
from tests.integration.tracker.conftest import StartTracker, order_body


async def test_orders_need_a_valid_key_and_a_valid_body(start_tracker: StartTracker) -> None:
    tracker = await start_tracker()
    client = tracker.client
    body = order_body(parcels=[("P-1", None)])

    missing = await client.post("/v1/orders", json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await client.post("/v1/orders", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    basic = await client.post(
        "/v1/orders",
        json=body,
        headers={"Authorization": f"Basic {tracker.api_keys['shop-a']}"},
    )
    assert basic.status_code == 401

    invalid = dict(body, customer={**body["customer"], "email": "not-an-email", "locale": "x"})
    invalid["parcels"] = []
    refused = await client.post("/v1/orders", json=invalid, headers=tracker.auth("shop-a"))
    assert refused.status_code == 422
    problems = {tuple(p["loc"]): p["msg"] for p in refused.json()["detail"]}
    assert ("body", "customer", "email") in problems
    assert ("body", "customer", "locale") in problems
    assert ("body", "parcels") in problems
    assert "not-an-email" not in refused.text, "values are not echoed"

    spoofed = await client.post(
        "/v1/orders", json=dict(body, merchant_id="shop-b"), headers=tracker.auth("shop-a")
    )
    assert spoofed.status_code == 422
    assert spoofed.json()["detail"][0]["loc"] == ["body", "merchant_id"]

    records = await tracker.read(orders.TOPIC.name, until=lambda got: len(got) > 0, timeout_s=2)
    assert records == [], "nothing refused was published"


async def test_a_merchant_writes_and_reads_only_its_own_orders(start_tracker: StartTracker) -> None:
    tracker = await start_tracker()
    client = tracker.client
    body = order_body(parcels=[("P-1", "RL900000001"), ("P-2", None)])
    order_id = body["order_id"]

    placed = await client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202, placed.text
    again = await client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert again.json()["accepted"] == placed.json()["accepted"], "a retry is the same event"

    records = await tracker.read(orders.TOPIC.name, until=lambda got: len(got) >= 2)
    published = [orders.TOPIC.decode(record.value or b"") for record in records]
    assert {event.merchant_id for event in published} == {"shop-a"}
    assert records[0].key == f"shop-a/{order_id}".encode()

    async def read_own() -> Any:
        response = await client.get(f"/v1/orders/{order_id}", headers=tracker.auth("shop-a"))
        return response if response.status_code == 200 else None

    own = await eventually(read_own)
    assert own is not None, "the order reached the tracker through the topic"
    shown = own.json()
    assert shown["state"] == "open"
    assert shown["order"]["customer"]["email"] == body["customer"]["email"]
    assert [(s["shipment_id"], s["status"], s["substatus"]) for s in shown["shipments"]] == [
        ("P-1", "pending", "pending_unspecified"),
        ("P-2", "pending", "awaiting_shipment"),
    ]

    other = await client.get(f"/v1/orders/{order_id}", headers=tracker.auth("shop-b"))
    missing = await client.get("/v1/orders/no-such-order", headers=tracker.auth("shop-b"))
    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.json() == {"detail": f"no order {order_id!r}"}, "same answer as a missing one"

    # shop-b posting the same order id creates shop-b's own order, never touches shop-a's.
    theirs = await client.post(
        "/v1/orders",
        json=order_body(order_id=order_id, parcels=[("P-9", None)]),
        headers=tracker.auth("shop-b"),
    )
    assert theirs.status_code == 202

    async def both_stored() -> Any:
        rows = await tracker.query(
            "SELECT merchant_id, shipment_id FROM shipments WHERE order_id = $1"
            " ORDER BY merchant_id, shipment_id",
            order_id,
        )
        return rows if len(rows) == 3 else None

    rows = await eventually(both_stored)
    assert rows is not None
    assert [(r["merchant_id"], r["shipment_id"]) for r in rows] == [
        ("shop-a", "P-1"),
        ("shop-a", "P-2"),
        ("shop-b", "P-9"),
    ]

    cancelled = await client.post(
        f"/v1/orders/{order_id}/cancel",
        json={"reason": "out_of_stock"},
        headers=tracker.auth("shop-b"),
    )
    assert cancelled.status_code == 202

    async def shop_b_cancelled() -> Any:
        response = await client.get(f"/v1/orders/{order_id}", headers=tracker.auth("shop-b"))
        return response.json()["state"] == "cancelled"

    assert await eventually(shop_b_cancelled)
    mine = await client.get(f"/v1/orders/{order_id}", headers=tracker.auth("shop-a"))
    assert mine.json()["state"] == "open"
