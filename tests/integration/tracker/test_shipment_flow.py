"""Order over HTTP + carrier webhooks -> shipment state on the topic and in PostgreSQL.

One story, step by step: a carrier event arrives before its order (held, then
reconciled), a two-parcel order, events out of order, a carrier re-send (ignored),
delivery (final), and an unreadable payload (dead-lettered, the rest goes on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord

from relais_contracts.topics import carrier_updates, dead_letters, shipment_state, tracking_events
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived, UpdateSource
from relais_contracts.topics.shipment_state import ShipmentStateChanged, StateChangeCause
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.kafka import make_producer, publish_events
from tests.integration.conftest import eventually, read_topic
from tests.integration.tracker.conftest import (
    StartTracker,
    Tracker,
    at,
    generic_payload,
    order_body,
)

TN1, TN2 = "RL100000001", "RL200000002"


async def shipment(tracker: Tracker, shipment_id: str) -> Any:
    rows = await tracker.query(
        "SELECT version, status, substatus, final FROM shipments"
        " WHERE merchant_id = 'shop-a' AND shipment_id = $1",
        shipment_id,
    )
    return rows[0] if rows else None


async def until_shipment(tracker: Tracker, shipment_id: str, **expected: Any) -> Any:
    async def matches() -> Any:
        row = await shipment(tracker, shipment_id)
        if row is not None and all(row[name] == value for name, value in expected.items()):
            return row
        return None

    row = await eventually(matches, timeout_s=20)
    assert row is not None, (
        f"{shipment_id} never reached {expected}: {await shipment(tracker, shipment_id)}"
    )
    return row


async def event_count(tracker: Tracker, shipment_id: str) -> int:
    rows = await tracker.query(
        "SELECT count(*) AS n FROM tracking_events WHERE shipment_id = $1", shipment_id
    )
    return int(rows[0]["n"])


def decoded_states(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[ShipmentStateChanged]:
    states = [shipment_state.TOPIC.decode(r.value or b"") for r in records]
    return [s for s in states if isinstance(s, ShipmentStateChanged)]


async def test_order_and_carrier_events_make_one_story_per_shipment(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()

    # 1. The carrier speaks before the merchant: the event is held, never lost.
    early = generic_payload(TN1, ("2026-03-02T10:00:00+01:00", "accepted_by_carrier", "PU"))
    assert (await tracker.webhook(early)).status_code == 202

    async def held() -> Any:
        rows = await tracker.query("SELECT tracking_key FROM pending_tracking_events")
        return [row["tracking_key"] for row in rows] or None

    assert await eventually(held) == [TN1]

    # 2. The order arrives over HTTP: two parcels, the held event is reconciled.
    body = order_body(parcels=[("P-1", TN1), ("P-2", TN2)])
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202, placed.text
    await until_shipment(tracker, "P-1", status="in_transit", substatus="accepted_by_carrier")
    await until_shipment(tracker, "P-2", status="pending", substatus="pending_unspecified")
    assert await held() is None

    # 3. Newer events, then an older one arriving late: the state follows event time.
    newer = generic_payload(
        TN1,
        ("2026-03-02T18:00:00+01:00", "arrived_at_facility", "AR"),
        ("2026-03-03T08:00:00+01:00", "out_for_delivery_unspecified", "OD"),
    )
    assert (await tracker.webhook(newer)).status_code == 202
    await until_shipment(tracker, "P-1", substatus="out_for_delivery_unspecified")
    late = generic_payload(TN1, ("2026-03-02T23:00:00+01:00", "departed_facility", "DF"))
    assert (await tracker.webhook(late)).status_code == 202

    async def recorded(n: int) -> bool:
        return await event_count(tracker, "P-1") == n

    assert await eventually(lambda: recorded(4))
    row = await until_shipment(tracker, "P-1", substatus="out_for_delivery_unspecified")
    version_before_resend = row["version"]

    # 4. The carrier re-sends what it already said: nothing new is recorded or published.
    assert (await tracker.webhook(newer)).status_code == 202
    assert (await tracker.webhook(early)).status_code == 202

    # 5. Delivery, and the second parcel moving: final state for P-1.
    delivered = generic_payload(TN1, ("2026-03-03T11:30:00+01:00", "delivered_to_neighbour", "DN"))
    assert (await tracker.webhook(delivered)).status_code == 202
    moving = generic_payload(TN2, ("2026-03-02T12:00:00+01:00", "accepted_by_carrier", "PU"))
    assert (await tracker.webhook(moving)).status_code == 202
    final = await until_shipment(tracker, "P-1", status="delivered", final=True)
    await until_shipment(tracker, "P-2", status="in_transit")
    assert await event_count(tracker, "P-1") == 5, "re-sent events are recorded once"
    assert final["version"] == version_before_resend + 1, "the re-send changed nothing"

    # On the topics: every event once, states with growing versions, final last.
    events = [
        tracking_events.TOPIC.decode(r.value or b"")
        for r in await tracker.read(tracking_events.TOPIC.name, until=lambda got: len(got) >= 6)
    ]
    assert all(isinstance(e, TrackingEventRecorded) for e in events)
    p1_events = [
        e for e in events if isinstance(e, TrackingEventRecorded) and e.shipment_id == "P-1"
    ]
    assert len(p1_events) == 5
    assert len({e.event_id for e in p1_events}) == 5

    records = await tracker.read(
        shipment_state.TOPIC.name,
        until=lambda got: any(s.shipment_id == "P-1" and s.final for s in decoded_states(got)),
    )
    assert {r.key for r in records} == {b"shop-a/P-1", b"shop-a/P-2"}
    p1 = [s for s in decoded_states(records) if s.shipment_id == "P-1"]
    assert [s.version for s in p1] == list(range(1, len(p1) + 1))
    assert p1[0].cause is StateChangeCause.ORDER_PLACED
    assert p1[0].status.value == "in_transit", "the held event was applied with the order"
    last = p1[-1]
    assert last.version == final["version"]
    assert last.final
    assert last.substatus.value == "delivered_to_neighbour"
    assert last.delivered_at == at("2026-03-03T11:30:00+01:00")
    assert last.shipped_at == at("2026-03-02T10:00:00+01:00")
    assert last.status_since == at("2026-03-03T11:30:00+01:00")
    assert (last.parcel_index, last.parcel_count) == (1, 2)
    assert last.customer.email == body["customer"]["email"]
    assert last.last_event is not None
    assert last.last_event.carrier_code == "DN"
    out_of_order = [s for s in p1 if s.last_event and s.last_event.carrier_code == "DF"]
    assert out_of_order == [], "the late older event never became the latest"


async def test_an_unreadable_carrier_update_is_dead_lettered_and_the_batch_goes_on(
    start_tracker: StartTracker, unique: str
) -> None:
    tracker = await start_tracker()
    body = order_body(parcels=[("P-1", TN1)])
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202
    await until_shipment(tracker, "P-1", status="pending")

    def update(payload: bytes) -> CarrierUpdateReceived:
        moment = at("2026-03-02T10:00:00+01:00")
        return CarrierUpdateReceived(
            occurred_at=moment,
            merchant_id="unknown",
            correlation_id=f"test-{unique}",
            carrier="generic",
            source=UpdateSource.POLL,
            received_at=moment,
            content_type="application/json",
            payload=payload.decode(),
            tracking_number=TN1,
        )

    bad = update(b'{"tracking_number": "RL100000001", "events": [{"status": "teleported"}]}')
    good = update(generic_payload(TN1, ("2026-03-02T10:00:00+01:00", "label_created", "LC")))
    producer = make_producer(tracker.settings, client_id=f"test-{unique}")
    await producer.start()
    try:
        await publish_events(
            producer, topic=tracker.topics[carrier_updates.TOPIC.name], events=[bad, good, good]
        )
    finally:
        await producer.stop()

    await until_shipment(tracker, "P-1", status="info_received")
    letters = await read_topic(
        tracker.settings.kafka_bootstrap,
        dead_letters.TOPIC.name,
        until=lambda got: any(f"test-{unique}".encode() in (r.value or b"") for r in got),
    )
    mine = [
        letter
        for letter in (dead_letters.TOPIC.decode(r.value or b"") for r in letters)
        if isinstance(letter, dead_letters.MessageDeadLettered)
        and letter.source_topic == tracker.topics[carrier_updates.TOPIC.name]
    ]
    assert len(mine) == 1
    assert mine[0].reason.kind == "handler_failed"
    assert "generic payload" in mine[0].reason.message
    assert mine[0].correlation_id == f"test-{unique}"
    metrics = (await tracker.client.get("/metrics")).text
    group = f'group="test-{unique}.tracker.carrier-updates"'
    duplicates = [
        line for line in metrics.splitlines() if group in line and 'outcome="duplicate"' in line
    ]
    assert duplicates, "the update delivered twice (same event id) was applied once"
    assert await event_count(tracker, "P-1") == 1
