"""Bad input stops at the tracker's edge (DESIGN.md, "Reliability rules"): a control
character in any free-text field of an order is a 422 naming the field and nothing is
published; an oversized body is a 413; a carrier's own line breaks are neutralized, not
refused, and reach the tracking events as spaces."""

from __future__ import annotations

import json
from typing import Any

from relais_contracts.text import first_control_character
from relais_contracts.topics import orders, tracking_events
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from tests.integration.tracker.conftest import StartTracker, order_body

TN = "RL300000003"


def _locations(response: Any) -> dict[tuple[str | int, ...], str]:
    return {tuple(problem["loc"]): problem["msg"] for problem in response.json()["detail"]}


async def test_an_order_number_with_a_line_feed_is_refused_and_nothing_published(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    client = tracker.client
    body = order_body(parcels=[("P-1", None)])

    refused = await client.post(
        "/v1/orders", json=dict(body, order_number="A-1\nBcc: x@y"), headers=tracker.auth("shop-a")
    )

    assert refused.status_code == 422, refused.text
    problems = _locations(refused)
    assert list(problems) == [("body", "order_number")]
    assert "U+000A (LF)" in problems[("body", "order_number")]
    assert "Bcc" not in refused.text, "the value is never echoed"
    records = await tracker.read(orders.TOPIC.name, until=lambda got: len(got) > 0, timeout_s=2)
    assert records == [], "nothing refused was published"


async def test_every_free_text_field_of_an_order_refuses_control_characters(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    client = tracker.client
    body = order_body(parcels=[("P-1", TN)])
    address = body["delivery"]["address"]
    parcel = body["parcels"][0]
    spoiled = dict(
        body,
        customer={**body["customer"], "first_name": "Cam\x00ille", "last_name": "Du\x1brand"},
        delivery={**body["delivery"], "address": {**address, "line1": "12\true", "city": "Lyon\r"}},
        parcels=[
            {
                **parcel,
                "service": "Domicile\n",
                "items": [{**parcel["items"][0], "name": "Housse\u0085lin"}],
            }
        ],
    )

    placed = await client.post("/v1/orders", json=spoiled, headers=tracker.auth("shop-a"))
    updated = await client.put(
        f"/v1/orders/{body['order_id']}",
        json=dict(body, order_number="#1\r\n"),
        headers=tracker.auth("shop-a"),
    )

    assert placed.status_code == 422, placed.text
    # (pydantic also reports `parcels` itself as too short once its only parcel failed)
    assert set(_locations(placed)) - {("body", "parcels")} == {
        ("body", "customer", "first_name"),
        ("body", "customer", "last_name"),
        ("body", "delivery", "address", "line1"),
        ("body", "delivery", "address", "city"),
        ("body", "parcels", 0, "service"),
        ("body", "parcels", 0, "items", 0, "name"),
    }
    assert updated.status_code == 422
    assert list(_locations(updated)) == [("body", "order_number")]

    # Delivery instructions are typed in a text area: their line breaks are kept.
    multi_line = dict(
        body, delivery={**body["delivery"], "address": {**address, "instructions": "A\nB"}}
    )
    accepted = await client.post("/v1/orders", json=multi_line, headers=tracker.auth("shop-a"))
    assert accepted.status_code == 202, accepted.text
    records = await tracker.read(orders.TOPIC.name, until=lambda got: len(got) > 1, timeout_s=3)
    assert len(records) == 1, "only the valid order was published"
    published = orders.TOPIC.decode(records[0].value or b"")
    assert isinstance(published, orders.OrderPlaced)
    assert published.delivery.address is not None
    assert published.delivery.address.instructions == "A\nB"


async def test_an_oversized_order_is_refused_with_413(start_tracker: StartTracker) -> None:
    tracker = await start_tracker()
    body = order_body(parcels=[("P-1", None)])
    huge = json.dumps(dict(body, padding="x" * (1024 * 1024))).encode()

    refused = await tracker.client.post(
        "/v1/orders",
        content=huge,
        headers={**tracker.auth("shop-a"), "content-type": "application/json"},
    )

    assert refused.status_code == 413
    records = await tracker.read(orders.TOPIC.name, until=lambda got: len(got) > 0, timeout_s=2)
    assert records == []


async def test_a_carriers_line_breaks_become_spaces_in_its_tracking_events(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    placed = await tracker.client.post(
        "/v1/orders", json=order_body(parcels=[("P-1", TN)]), headers=tracker.auth("shop-a")
    )
    assert placed.status_code == 202, placed.text
    payload = json.dumps(
        {
            "tracking_number": TN,
            "events": [
                {
                    "occurred_at": "2026-03-02T10:00:00+01:00",
                    "substatus": "accepted_by_carrier",
                    "carrier_code": "PU",
                    "description": "Colis pris en charge\r\npar le transporteur\x00",
                    "location": {"city": "Lyon\t3e", "country": "FR"},
                }
            ],
        }
    ).encode()

    accepted = await tracker.webhook(payload)

    assert accepted.status_code == 202, accepted.text
    records = await tracker.read(tracking_events.TOPIC.name, until=lambda got: len(got) >= 1)
    event = tracking_events.TOPIC.decode(records[0].value or b"")
    assert isinstance(event, TrackingEventRecorded)
    assert event.description == "Colis pris en charge par le transporteur"
    assert event.location is not None
    assert event.location.city == "Lyon 3e"
    assert first_control_character((records[0].value or b"").decode()) is None
