"""The scenario corpus through tracker + detector: orders and carrier updates in, anomalies
out, over real Kafka and PostgreSQL, the detector on a ManualClock.

The tracker consumes each story's order (and its updates) and its carrier events (as
CarrierUpdateReceived in the generic Relais format), folds them into shipment states
and publishes them; the detector consumes those. At each instant of the shared
timeline the test fires the due timers, publishes that instant's inputs, and waits
until the tracker consumed them and the detector consumed every state the tracker
published. Precision and recall per anomaly type must be 100 %.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from relais_contracts.envelope import Event
from relais_contracts.topics import carrier_updates, orders, shipment_state, tracking_events
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived
from relais_runtime.db import checked_schema
from relais_runtime.kafka import publish_events
from relais_runtime.service import RunningService
from relais_tracker.bootstrap import build_spec as tracker_spec
from relais_tracker.settings import TrackerSettings
from tests.conftest import Infrastructure, drop_schemas
from tests.corpus.stories import load_stories
from tests.integration.conftest import eventually
from tests.integration.detector.conftest import MERCHANTS_DIR, DetectorHarness, free_port
from tests.integration.detector.corpus_replay import replay, score_decisions


@pytest.fixture
async def tracker_schema(infrastructure: Infrastructure, unique: str) -> AsyncIterator[str]:
    name = f"test_{unique}_tracker"
    yield name
    await drop_schemas(infrastructure.database_url, [name])


async def test_tracker_and_detector_decide_the_whole_corpus(
    detector: DetectorHarness,
    tracker_schema: str,
    new_topic: Callable[..., Any],
) -> None:
    started = time.perf_counter()
    checked_schema(tracker_schema)
    unique = detector.unique
    topics = {
        orders.TOPIC.name: await new_topic(f"test-{unique}.orders"),
        carrier_updates.TOPIC.name: await new_topic(f"test-{unique}.carrier-updates"),
        tracking_events.TOPIC.name: await new_topic(f"test-{unique}.tracking-events"),
        shipment_state.TOPIC.name: detector.topics.shipment_state.name,
    }
    tracker = RunningService(
        replace(tracker_spec(), schema=tracker_schema),
        TrackerSettings(
            kafka_bootstrap=detector.infrastructure.kafka_bootstrap,
            database_url=detector.infrastructure.database_url,
            http_port=free_port(),
            consumer_group_prefix=f"test-{unique}.",
            merchants_dir=MERCHANTS_DIR,
            topic_overrides=topics,
            outbox_poll_interval_s=0.1,
        ),
    )

    async def send(events: Sequence[Event]) -> None:
        routes: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            if isinstance(event, ActionCompleted):
                routes[detector.topics.action_results.name].append(event)
            elif isinstance(event, CarrierUpdateReceived):
                routes[topics[carrier_updates.TOPIC.name]].append(event)
            else:
                routes[topics[orders.TOPIC.name]].append(event)
        for topic, batch in routes.items():
            await publish_events(detector.producer, topic=topic, events=batch)

    async def settled(events: Sequence[Event]) -> None:
        ids = [event.event_id for event in events]
        to_tracker = [e.event_id for e in events if not isinstance(e, ActionCompleted)]
        to_detector = [e.event_id for e in events if isinstance(e, ActionCompleted)]

        async def done() -> bool:
            # Inputs consumed by their service, and every state the tracker wrote
            # consumed by the detector (the schema name is checked_schema()'d).
            return bool(
                await detector.pool.fetchval(
                    f"""SELECT (SELECT count(*) FROM "{tracker_schema}".processed_events
                                WHERE event_id = ANY($1::uuid[])) = cardinality($1::uuid[])
                           AND (SELECT count(*) FROM processed_events
                                WHERE event_id = ANY($2::uuid[])) = cardinality($2::uuid[])
                           AND NOT EXISTS (
                               SELECT 1 FROM "{tracker_schema}".outbox o
                               WHERE o.topic = $3 AND NOT EXISTS (
                                   SELECT 1 FROM processed_events p
                                   WHERE p.event_id = o.event_id))""",  # noqa: S608
                    to_tracker,
                    to_detector,
                    detector.topics.shipment_state.name,
                )
            )

        assert await eventually(done, timeout_s=20, interval_s=0.02), f"not settled: {ids[:3]}"

    async def deliver(events: Sequence[Event]) -> None:
        await send(events)
        await settled(events)

    stories = load_stories()
    await tracker.start()
    try:
        async with detector.service():
            replayed = await replay(detector, stories, deliver=deliver, through_tracker=True)
    finally:
        await tracker.stop()
    result = score_decisions(stories, replayed.decided)
    print(
        f"\n{result.table(len(stories))}\n"
        f"decisions read back: {len(replayed.decided)}, timers fired: {replayed.timers_fired}, "
        f"wall time: {time.perf_counter() - started:.1f} s"
    )
    assert result.perfect, result.table(len(stories))
