"""What the detector decided for each story, and precision/recall against the corpus."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from relais_contracts.catalogue import AnomalyType, Milestone, ResolutionReason
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyEvent,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from tests.corpus.stories import Expected, Story


@dataclass
class Outcome:
    """The detector's decisions for one story, up to the story's end."""

    anomalies: list[AnomalyType] = field(default_factory=list)
    resolved: dict[AnomalyType, ResolutionReason] = field(default_factory=dict)
    escalated: set[AnomalyType] = field(default_factory=set)
    milestones: set[Milestone] = field(default_factory=set)


def outcome_of(story: Story, events: Iterable[AnomalyEvent]) -> Outcome:
    outcome = Outcome()
    for event in sorted(events, key=lambda e: e.produced_at):
        if event.produced_at > story.until:
            continue
        if isinstance(event, AnomalyDetected):
            outcome.anomalies.append(event.anomaly_type)
            outcome.resolved.pop(event.anomaly_type, None)
        elif isinstance(event, AnomalyResolved):
            outcome.resolved[event.anomaly_type] = event.reason
        elif isinstance(event, AnomalyEscalated):
            outcome.escalated.add(event.anomaly_type)
        elif isinstance(event, ShipmentMilestoneReached):
            outcome.milestones.add(event.milestone)
    return outcome


@dataclass
class Score:
    true_positive: Counter[AnomalyType] = field(default_factory=Counter)
    false_positive: Counter[AnomalyType] = field(default_factory=Counter)
    false_negative: Counter[AnomalyType] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def precision(self, kind: AnomalyType) -> float:
        found = self.true_positive[kind] + self.false_positive[kind]
        return self.true_positive[kind] / found if found else 1.0

    def recall(self, kind: AnomalyType) -> float:
        expected = self.true_positive[kind] + self.false_negative[kind]
        return self.true_positive[kind] / expected if expected else 1.0

    @property
    def perfect(self) -> bool:
        return not self.mismatches and not +self.false_positive and not +self.false_negative

    def table(self, stories: int) -> str:
        lines = [
            f"corpus: {stories} stories",
            f"{'anomaly type':<26}{'expected':>9}{'detected':>9}{'precision':>11}{'recall':>8}",
        ]
        for kind in AnomalyType:
            expected = self.true_positive[kind] + self.false_negative[kind]
            detected = self.true_positive[kind] + self.false_positive[kind]
            lines.append(
                f"{kind.value:<26}{expected:>9}{detected:>9}"
                f"{self.precision(kind):>10.0%} {self.recall(kind):>7.0%}"
            )
        lines.extend(f"mismatch: {line}" for line in self.mismatches)
        return "\n".join(lines)


def score(stories: Iterable[Story], outcomes: Mapping[str, Outcome]) -> Score:
    result = Score()
    for story in stories:
        _score_story(result, story.story_id, story.expected, outcomes[story.story_id])
    return result


def _score_story(result: Score, story_id: str, expected: Expected, actual: Outcome) -> None:
    wanted, found = Counter(expected.anomalies), Counter(actual.anomalies)
    for kind in AnomalyType:
        result.true_positive[kind] += min(wanted[kind], found[kind])
        result.false_positive[kind] += max(found[kind] - wanted[kind], 0)
        result.false_negative[kind] += max(wanted[kind] - found[kind], 0)
    checks = {
        "anomalies": (sorted(wanted.elements()), sorted(found.elements())),
        "resolved": (expected.resolved, actual.resolved),
        "escalated": (set(expected.escalated), actual.escalated),
        "milestones": (set(expected.milestones), actual.milestones),
    }
    for name, (want, got) in checks.items():
        if want != got:
            result.mismatches.append(f"{story_id}: {name} expected {want}, got {got}")
