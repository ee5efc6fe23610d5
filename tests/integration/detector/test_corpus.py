"""The scenario corpus through the real detector: real Kafka, PostgreSQL, consumers,
outbox relay and sweeper, time on a ManualClock.

Every story shares one timeline (tests/corpus/timeline.py): at each instant the test
sets the clock, fires the timers due by then with the sweeper, then publishes that
instant's shipment states and action results and waits until the detector committed
them. The decisions are read back from the anomalies topic and scored per anomaly
type; the corpus must be decided with 100 % precision and recall.

The stories enter as ShipmentStateChanged snapshots (the tracker's output), folded
from each story's order and carrier events by tests/corpus/stories.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from relais_contracts.envelope import Event
from tests.corpus.stories import load_stories
from tests.integration.detector.conftest import DetectorHarness
from tests.integration.detector.corpus_replay import replay, score_decisions


async def test_the_detector_decides_the_whole_corpus(detector: DetectorHarness) -> None:
    started = time.perf_counter()
    stories = load_stories()

    async def deliver(events: Sequence[Event]) -> None:
        await detector.publish(events)
        await detector.processed([event.event_id for event in events])

    async with detector.service():
        replayed = await replay(detector, stories, deliver=deliver)
    result = score_decisions(stories, replayed.decided)
    print(
        f"\n{result.table(len(stories))}\n"
        f"inputs published: {replayed.inputs}, decisions read back: {len(replayed.decided)}, "
        f"timers fired: {replayed.timers_fired}, wall time: {time.perf_counter() - started:.1f} s"
    )
    assert result.perfect, result.table(len(stories))
