"""Carrier names through the alias table, end to end: an order whose parcel says
`colissimo` (or `La Poste`) and an update in the generic format naming `colissimo`
make one story; a parcel sent as `generic` still takes its real carrier's events; the
webhook route takes any alias of its carrier."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import eventually
from tests.integration.tracker.conftest import StartTracker, Tracker, order_body


def generic_for(carrier: str | None, tracking_number: str, substatus: str) -> bytes:
    body: dict[str, Any] = {
        "tracking_number": tracking_number,
        "events": [{"occurred_at": "2026-03-02T10:00:00+01:00", "substatus": substatus}],
    }
    if carrier is not None:
        body["carrier"] = carrier
    return json.dumps(body).encode()


async def shipment_row(tracker: Tracker, shipment_id: str) -> Any:
    rows = await tracker.query(
        "SELECT carrier, substatus FROM shipments WHERE shipment_id = $1", shipment_id
    )
    return rows[0] if rows else None


async def until_substatus(tracker: Tracker, shipment_id: str, substatus: str) -> Any:
    async def reached() -> Any:
        row = await shipment_row(tracker, shipment_id)
        return row if row is not None and row["substatus"] == substatus else None

    row = await eventually(reached, timeout_s=20)
    assert row is not None, f"{shipment_id}: {await shipment_row(tracker, shipment_id)}"
    return row


async def test_a_generic_update_naming_the_carrier_matches_that_carriers_parcel(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    body = order_body(parcels=[("P-COL", "6A10000000001"), ("P-LP", "6A10000000002")])
    body["parcels"][0]["carrier"] = "colissimo"
    body["parcels"][1]["carrier"] = "La Poste"
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202, placed.text
    await until_substatus(tracker, "P-COL", "pending_unspecified")
    row = await until_substatus(tracker, "P-LP", "pending_unspecified")
    assert row["carrier"] == "colissimo", "the order API names carriers by their Relais code"

    for number in ("6A10000000001", "6A10000000002"):
        update = generic_for("colissimo", number, "ready_for_pickup")
        assert (await tracker.webhook(update)).status_code == 202

    await until_substatus(tracker, "P-COL", "ready_for_pickup")
    await until_substatus(tracker, "P-LP", "ready_for_pickup")
    assert await tracker.query("SELECT 1 FROM pending_tracking_events") == []
    recorded = await tracker.query("SELECT DISTINCT carrier FROM tracking_events")
    assert [r["carrier"] for r in recorded] == ["colissimo"]


async def test_held_events_of_the_named_carrier_are_reconciled_with_the_order(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    early = generic_for("la-poste-colissimo", "6A20000000001", "accepted_by_carrier")
    other = generic_for("dhl", "6A20000000001", "label_created")
    assert (await tracker.webhook(early)).status_code == 202
    assert (await tracker.webhook(other)).status_code == 202

    async def held() -> Any:
        rows = await tracker.query("SELECT carrier FROM pending_tracking_events ORDER BY 1")
        return [r["carrier"] for r in rows] if len(rows) == 2 else None

    assert await eventually(held) == ["colissimo", "dhl"]

    body = order_body(parcels=[("P-1", "6A20000000001")])
    body["parcels"][0]["carrier"] = "laposte"
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202, placed.text

    await until_substatus(tracker, "P-1", "accepted_by_carrier")
    rows = await tracker.query("SELECT carrier FROM pending_tracking_events")
    assert [r["carrier"] for r in rows] == ["dhl"], "another carrier's event stays held"


async def test_a_parcel_sent_as_generic_takes_its_real_carriers_events(
    start_tracker: StartTracker,
) -> None:
    """What the demo does: the order names `generic`, the payload names the carrier."""
    tracker = await start_tracker()
    placed = await tracker.client.post(
        "/v1/orders",
        json=order_body(parcels=[("P-G", "RLGEN0000001")]),
        headers=tracker.auth("shop-a"),
    )
    assert placed.status_code == 202, placed.text
    await until_substatus(tracker, "P-G", "pending_unspecified")

    update = generic_for("Mondial Relay", "RLGEN0000001", "ready_for_pickup")
    response = await tracker.client.post(
        "/webhooks/carriers/Generic", content=update, headers=tracker.sign(update)
    )

    assert response.status_code == 202, response.text
    await until_substatus(tracker, "P-G", "ready_for_pickup")
    recorded = await tracker.query("SELECT carrier FROM tracking_events")
    assert [r["carrier"] for r in recorded] == ["mondial_relay"]
