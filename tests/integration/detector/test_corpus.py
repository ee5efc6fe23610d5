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
from collections import defaultdict

from relais_contracts.topics.anomalies import AnomalyEvent
from tests.corpus.scoring import outcome_of, score
from tests.corpus.stories import load_stories
from tests.corpus.timeline import timeline
from tests.integration.detector.conftest import DetectorHarness


async def test_the_detector_decides_the_whole_corpus(detector: DetectorHarness) -> None:
    started = time.perf_counter()
    stories = load_stories()
    steps = timeline(stories, run=detector.unique)
    end = max(story.until for story in stories)
    sweeper = detector.sweeper()
    published = 0
    async with detector.service():
        index = 0
        while True:
            next_input = steps[index].at if index < len(steps) else None
            next_due = await detector.next_due()
            moments = [m for m in (next_input, next_due) if m is not None]
            if not moments or min(moments) > end:
                break
            now = min(moments)
            detector.clock.set(now)
            if next_due is not None and next_due <= now:
                await sweeper.sweep_until_idle()
                continue
            events = [item.event for item in steps[index].inputs]
            await detector.publish(events)
            await detector.processed([event.event_id for event in events])
            published += len(events)
            index += 1
        decided = await detector.published()

    by_story: dict[str, list[AnomalyEvent]] = defaultdict(list)
    for event in decided:
        by_story[event.shipment_id.rsplit(".", 1)[0]].append(event)
    result = score(stories, {s.story_id: outcome_of(s, by_story[s.story_id]) for s in stories})
    print(
        f"\n{result.table(len(stories))}\n"
        f"inputs published: {published}, decisions read back: {len(decided)}, "
        f"timers fired: {sweeper.fired}, wall time: {time.perf_counter() - started:.1f} s"
    )
    assert result.perfect, result.table(len(stories))
