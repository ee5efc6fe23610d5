"""The shared corpus timeline played against a running detector on its ManualClock.

At each instant, earliest first: the clock is set; if a timer is due by then the sweeper
fires every due timer and the instant is looked at again; otherwise that instant's inputs
are delivered, and the next instant waits until `deliver` says they settled. The replay
stops when neither an input nor a timer is left before the last story ends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from relais_contracts.envelope import Event
from relais_contracts.topics.anomalies import AnomalyEvent
from tests.corpus.scoring import Score, outcome_of, score
from tests.corpus.stories import Story
from tests.corpus.timeline import timeline
from tests.integration.detector.conftest import DetectorHarness

Deliver = Callable[[Sequence[Event]], Awaitable[None]]


@dataclass(frozen=True)
class Replayed:
    decided: list[AnomalyEvent]
    inputs: int
    timers_fired: int


async def replay(
    detector: DetectorHarness,
    stories: Sequence[Story],
    *,
    deliver: Deliver,
    through_tracker: bool = False,
) -> Replayed:
    """Play every story; `deliver` publishes one instant's inputs and waits until settled.

    The detector service must be running; its decisions are read back once its outbox drained.
    """
    steps = timeline(stories, run=detector.unique, through_tracker=through_tracker)
    end = max(story.until for story in stories)
    sweeper = detector.sweeper()
    delivered = 0
    index = 0
    while True:
        next_input = steps[index].at if index < len(steps) else None
        next_due = await detector.next_due()
        moments = [moment for moment in (next_input, next_due) if moment is not None]
        if not moments or min(moments) > end:
            break
        now = min(moments)
        detector.clock.set(now)
        if next_due is not None and next_due <= now:
            await sweeper.sweep_until_idle()
            continue
        events = [item.event for item in steps[index].inputs]
        await deliver(events)
        delivered += len(events)
        index += 1
    return Replayed(
        decided=await detector.published(), inputs=delivered, timers_fired=sweeper.fired
    )


def score_decisions(stories: Sequence[Story], decided: Sequence[AnomalyEvent]) -> Score:
    """Precision and recall per anomaly type; a story owns the shipments `<story id>.<n>`."""
    by_story: dict[str, list[AnomalyEvent]] = defaultdict(list)
    for event in decided:
        by_story[event.shipment_id.rsplit(".", 1)[0]].append(event)
    return score(stories, {s.story_id: outcome_of(s, by_story[s.story_id]) for s in stories})
