"""Durable timers on the real database: moved and cancelled with the facts, fired after a
restart, never fired twice by concurrent sweepers; redelivery never opens twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import AnomalyDetected, AnomalyResolved
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_detector.bootstrap import policy_book
from relais_detector.handlers import Detector
from relais_runtime.consumer import MessageContext
from relais_runtime.db import create_pool
from tests.corpus.stories import _story, inputs, moment
from tests.integration.conftest import eventually
from tests.integration.detector.conftest import MERCHANTS_DIR, DetectorHarness

ZONE = "Europe/Paris"
IN_TRANSIT = [
    {"at": "D0 17:00", "sub": "accepted_by_carrier", "code": "PCHMQT"},
    {"at": "D1 02:00", "sub": "arrived_at_facility", "code": "AARCFM"},
    {"at": "D1 12:00", "sub": "delivered_to_recipient", "code": "LIVCFM"},
]


def states(
    shipment: str, *, events: list[dict[str, Any]], **raw: Any
) -> list[ShipmentStateChanged]:
    story = _story(
        "colissimo",
        {"id": shipment, "merchant": "maison-lumiere", "until": "D9", "events": events, **raw},
    )
    return [i.event for i in inputs(story, run="it") if isinstance(i.event, ShipmentStateChanged)]


def at(text: str) -> datetime:
    return moment(text, ZONE)


async def timers_of(harness: DetectorHarness, shipment_id: str) -> dict[str, datetime]:
    rows = await harness.pool.fetch(
        "SELECT timer_key, due_at FROM timers WHERE shipment_id = $1", shipment_id
    )
    return {row["timer_key"]: row["due_at"] for row in rows}


async def deliver(harness: DetectorHarness, state: ShipmentStateChanged) -> None:
    harness.clock.set(state.occurred_at)
    await harness.publish([state])
    await harness.processed([state.event_id])


async def test_timers_move_with_each_scan_and_are_cancelled_on_delivery(
    detector: DetectorHarness,
) -> None:
    placed, accepted, arrived, delivered = states("move", events=IN_TRANSIT, promised_by="D3")
    async with detector.service():
        await deliver(detector, placed)
        assert await timers_of(detector, "move.it") == {"promised_delivery": at("D4 00:00")}
        await deliver(detector, accepted)
        after_accepted = await timers_of(detector, "move.it")
        await deliver(detector, arrived)
        after_arrived = await timers_of(detector, "move.it")
        await deliver(detector, delivered)
        after_delivered = await timers_of(detector, "move.it")

    assert after_accepted["next_scan"] == at("D2 17:00")
    assert after_arrived["next_scan"] == at("D3 02:00")
    assert after_arrived["lost_after"] == at("D1 02:00") + timedelta(hours=192)
    assert after_arrived["promised_delivery"] == at("D4 00:00")
    assert after_delivered == {}


async def test_a_due_timer_fires_in_a_new_instance_after_a_restart(
    detector: DetectorHarness,
) -> None:
    placed, accepted, arrived, _ = states("restart", events=IN_TRANSIT)
    async with detector.service():
        for state in (placed, accepted, arrived):
            await deliver(detector, state)
    # Down for three days: the stall deadline (D3 02:00) passes while nothing runs.
    detector.clock.set(at("D4 09:00"))
    async with detector.service(sweep_interval_s=0.05):

        async def stalled() -> bool:
            return bool(
                await detector.pool.fetchval(
                    "SELECT count(*) FROM anomalies WHERE shipment_id = $1 AND anomaly_type = $2",
                    "restart.it",
                    "stalled",
                )
            )

        assert await eventually(stalled, timeout_s=15, interval_s=0.05)
        events = await detector.published()
    (detected,) = [e for e in events if isinstance(e, AnomalyDetected)]
    assert detected.anomaly_type is AnomalyType.STALLED
    assert detected.evidence.deadline is not None
    assert detected.evidence.deadline.due_at == at("D3 02:00")
    assert detected.produced_at == at("D4 09:00")
    remaining = await timers_of(detector, "restart.it")
    assert "next_scan" not in remaining
    assert set(remaining) == {"lost_after", "escalation:stalled"}


async def test_two_concurrent_sweepers_never_fire_a_timer_twice(
    detector: DetectorHarness, infrastructure: Any, schema: str
) -> None:
    count = 60
    handler = Detector(
        clock=detector.clock, policies=policy_book(MERCHANTS_DIR), topics=detector.topics
    )
    detector.clock.set(at("D1 03:00"))
    async with detector.pool.acquire() as connection:
        for index in range(count):
            for state in states(f"race{index}", events=IN_TRANSIT[:1]):
                async with connection.transaction():
                    await handler.on_shipment_state(
                        state, MessageContext(connection, "setup", 0, index, 1)
                    )
    due_before = await detector.pool.fetchval(
        "SELECT count(*) FROM timers WHERE kind = 'next_scan'"
    )
    detector.clock.set(at("D3 12:00"))
    other_pool = await create_pool(database_url=infrastructure.database_url, schema=schema)
    try:
        first = detector.sweeper(batch_size=7)
        second = detector.sweeper(other_pool, batch_size=7)
        await asyncio.gather(first.sweep_until_idle(), second.sweep_until_idle())
        await asyncio.gather(first.sweep_until_idle(), second.sweep_until_idle())
    finally:
        await other_pool.close()

    opened = await detector.pool.fetch(
        "SELECT shipment_id, count(*) AS n FROM anomalies WHERE anomaly_type = 'stalled'"
        " GROUP BY shipment_id"
    )
    detected_rows = await detector.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE convert_from(value, 'UTF8')::jsonb"
        " ->> 'event_type' = 'AnomalyDetected'"
    )
    assert due_before == count
    assert first.fired + second.fired == count
    assert len(opened) == count
    assert all(row["n"] == 1 for row in opened)
    assert detected_rows == count
    assert await detector.next_due() > at("D3 12:00")


async def test_redelivered_and_replayed_states_open_one_anomaly_and_an_action_resolves_it(
    detector: DetectorHarness,
) -> None:
    events = [*IN_TRANSIT[:2], {"at": "D1 12:00", "sub": "damaged", "code": "ANOAVA"}]
    placed, accepted, arrived, damaged = states("redelivery", events=events)
    replayed = damaged.model_copy(update={"event_id": damaged.cause_event_id})
    async with detector.service():
        for state in (placed, accepted, arrived, damaged):
            await deliver(detector, state)
        await detector.publish([damaged, replayed])
        await detector.processed([replayed.event_id])
        anomaly = await detector.pool.fetchrow(
            "SELECT anomaly_id FROM anomalies WHERE shipment_id = 'redelivery.it'"
        )
        completed = ActionCompleted(
            occurred_at=at("D2 10:00"),
            merchant_id="maison-lumiere",
            correlation_id="redelivery.it",
            shipment_id="redelivery.it",
            action_id=anomaly["anomaly_id"],
            action="reship",  # type: ignore[arg-type]
            order_id=damaged.order_id,
            order_number=damaged.order_number,
            automatic=False,
            anomaly_id=anomaly["anomaly_id"],
            attempts=1,
        )
        detector.clock.set(at("D2 10:00"))
        await detector.publish([completed, completed])
        await detector.processed([completed.event_id])
        published = await detector.published()
        timers = await timers_of(detector, "redelivery.it")

    detected = [e for e in published if isinstance(e, AnomalyDetected)]
    resolved = [e for e in published if isinstance(e, AnomalyResolved)]
    assert [e.anomaly_type for e in detected] == [AnomalyType.DAMAGED]
    assert [(e.reason, e.action_id) for e in resolved] == [
        (ResolutionReason.ACTION_COMPLETED, completed.action_id)
    ]
    assert "escalation:damaged" not in timers


async def test_a_second_open_anomaly_of_a_type_is_refused_by_the_database(
    detector: DetectorHarness,
) -> None:
    async with detector.pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO shipments (merchant_id, shipment_id, version, facts)"
            " VALUES ('m', 's', 1, '{}')"
        )
        insert = (
            "INSERT INTO anomalies (merchant_id, shipment_id, anomaly_type, occurrence,"
            " anomaly_id, episode, severity, opened_at)"
            " VALUES ('m', 's', 'lost', $1, gen_random_uuid(), 'lost', 'critical', now())"
        )
        await connection.execute(insert, 1)
        with pytest.raises(asyncpg.UniqueViolationError, match="anomalies_one_open"):
            await connection.execute(insert, 2)
