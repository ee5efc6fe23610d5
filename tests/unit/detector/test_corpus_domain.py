"""The scenario corpus replayed through the pure domain, with an in-memory store.

The same corpus runs through the real pipeline (Kafka, PostgreSQL, the sweeper) in
tests/integration/detector/test_corpus.py; this one pins the domain's decisions
without I/O, so a wrong decision shows up here first, with its story.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from relais_contracts.catalogue import Milestone
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import AnomalyEvent
from relais_detector import domain
from relais_detector.domain import AnomalyRecord, Decision, Memory, ShipmentFacts, Timer
from relais_runtime.merchants import load_merchants
from tests.conftest import REPO_ROOT
from tests.corpus.scoring import outcome_of, score
from tests.corpus.stories import Story, load_stories
from tests.corpus.timeline import timeline

MERCHANTS = load_merchants(Path(REPO_ROOT) / "deploy" / "merchants")


@dataclass
class _Shipment:
    facts: ShipmentFacts
    memory: Memory = field(default_factory=Memory.empty)
    timers: tuple[Timer, ...] = ()
    events: list[AnomalyEvent] = field(default_factory=list)

    def apply(self, decision: Decision) -> None:
        anomalies: dict[object, AnomalyRecord] = dict(self.memory.anomalies)
        for record in decision.records:
            current = anomalies.get(record.anomaly_type)
            if current is None or record.occurrence >= current.occurrence:
                anomalies[record.anomaly_type] = record
        self.memory = replace(
            self.memory,
            anomalies=anomalies,  # type: ignore[arg-type]
            milestones=frozenset(decision.milestones),
        )
        self.timers = decision.timers
        self.events.extend(decision.events)


def replay(stories: list[Story]) -> dict[str, list[AnomalyEvent]]:
    steps = timeline(stories, run="unit")
    end = max(story.until for story in stories)
    shipments: dict[str, _Shipment] = {}
    index = 0
    while True:
        next_input = steps[index].at if index < len(steps) else None
        dues = [t.due_at for s in shipments.values() for t in s.timers]
        next_due = min(dues) if dues else None
        moments = [m for m in (next_input, next_due) if m is not None]
        if not moments or min(moments) > end:
            break
        now = min(moments)
        if next_due is not None and next_due <= now:
            _fire(shipments, now)
            continue
        for item in steps[index].inputs:
            _handle(shipments, item.event, now)
        index += 1
    return {
        shipment_id.rsplit(".", 1)[0]: shipment.events
        for shipment_id, shipment in shipments.items()
    }


def _policy(merchant_id: str) -> domain.DetectionPolicy:
    return MERCHANTS[merchant_id].detection


def _fire(shipments: dict[str, _Shipment], now: datetime) -> None:
    for shipment in shipments.values():
        if any(timer.due_at <= now for timer in shipment.timers):
            shipment.apply(
                domain.evaluate(
                    facts=shipment.facts,
                    memory=shipment.memory,
                    policy=_policy(shipment.facts.merchant_id),
                    now=now,
                )
            )


def _handle(shipments: dict[str, _Shipment], event: object, now: datetime) -> None:
    if isinstance(event, ActionCompleted):
        shipment = shipments[event.shipment_id]
        shipment.apply(
            domain.on_action_result(
                result=event,
                facts=shipment.facts,
                memory=shipment.memory,
                policy=_policy(event.merchant_id),
                now=now,
            )
        )
        return
    facts = ShipmentFacts.of(event)  # type: ignore[arg-type]
    shipment = shipments.setdefault(facts.shipment_id, _Shipment(facts=facts))
    shipment.facts = facts
    shipment.apply(
        domain.evaluate(
            facts=facts, memory=shipment.memory, policy=_policy(facts.merchant_id), now=now
        )
    )


def test_the_corpus_has_at_least_forty_stories_across_carriers() -> None:
    stories = load_stories()
    assert len(stories) >= 40
    assert len({story.carrier for story in stories}) >= 6
    covered = {kind for story in stories for kind in story.expected.anomalies}
    assert covered == set(domain.AnomalyType)
    milestones = {m for story in stories for m in story.expected.milestones}
    assert milestones == set(Milestone)


def test_the_domain_decides_every_story_of_the_corpus() -> None:
    stories = load_stories()
    events = replay(stories)
    result = score(stories, {s.story_id: outcome_of(s, events[s.story_id]) for s in stories})
    print("\n" + result.table(len(stories)))
    assert result.perfect, result.table(len(stories))
