"""POST /v1/orders/batch: validated whole, published as the single endpoint would."""

from __future__ import annotations

from typing import Any

from relais_contracts.topics import orders
from tests.integration.conftest import eventually
from tests.integration.tracker.conftest import StartTracker, order_body


async def test_a_batch_is_refused_whole_or_published_as_single_orders_are(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    client, auth = tracker.client, tracker.auth("shop-a")
    good = order_body(parcels=[("P-1", "RL900000101")])
    bad = order_body(parcels=[("P-2", "RL900000102")])
    bad["customer"] = {**bad["customer"], "email": "not-an-email"}
    spoofed = dict(order_body(parcels=[("P-3", None)]), merchant_id="shop-b")

    refused = await client.post(
        "/v1/orders/batch", json={"orders": [good, bad, spoofed]}, headers=auth
    )
    assert refused.status_code == 422
    problems = [tuple(problem["loc"]) for problem in refused.json()["detail"]]
    assert problems == [
        ("body", "orders", 1, "customer", "email"),
        ("body", "orders", 2, "merchant_id"),
    ]
    assert "not-an-email" not in refused.text, "values are not echoed"
    empty = await client.post("/v1/orders/batch", json={"orders": []}, headers=auth)
    assert empty.status_code == 422
    unauthorized = await client.post("/v1/orders/batch", json={"orders": [good]})
    assert unauthorized.status_code == 401

    first = order_body(parcels=[("B-1", "RL900000201")])
    second = order_body(parcels=[("B-2", "RL900000202"), ("B-3", None)])
    batch = await client.post("/v1/orders/batch", json={"orders": [first, second]}, headers=auth)
    single = await client.post("/v1/orders", json=second, headers=auth)

    assert batch.status_code == 202, batch.text
    accepted = batch.json()
    assert accepted["event_type"] == "OrderPlaced"
    assert accepted["accepted"][1] == single.json()["accepted"], "the same event id: deduplicated"
    records = await tracker.read(orders.TOPIC.name, until=lambda got: len(got) >= 3)
    published = [orders.TOPIC.decode(record.value or b"") for record in records]
    assert sorted(str(event.event_id) for event in published) == sorted(
        [*accepted["accepted"], single.json()["accepted"]]
    ), "nothing of the refused batch was published"

    async def stored() -> Any:
        rows = await tracker.query("SELECT shipment_id FROM shipments ORDER BY shipment_id")
        return rows if len(rows) >= 3 else None

    assert [row["shipment_id"] for row in await eventually(stored)] == ["B-1", "B-2", "B-3"]
