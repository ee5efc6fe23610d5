"""The detector's rules, one at a time, on the pure domain."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from relais_contracts.catalogue import AnomalyType, EscalationReason, ResolutionReason, Severity
from relais_contracts.ids import anomaly_id
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyResolved,
    DeadlineKind,
)
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_detector import domain
from relais_detector.domain import Decision, Memory, ShipmentFacts, TimerKind
from relais_runtime.merchants.detection import DetectionPolicy
from tests.corpus.stories import _story, day_of, inputs, moment

POLICY = DetectionPolicy(stalled_after_hours=48, lost_after_hours=192, escalate_after_hours=48)
ZONE = "Europe/Paris"


def states(**raw: Any) -> list[ShipmentStateChanged]:
    """The shipment states of a small story (see tests/corpus/stories.py)."""
    story = _story("colissimo", {"id": "unit", "merchant": "maison-lumiere", "until": "D9", **raw})
    return [
        item.event
        for item in inputs(story, run="t")
        if isinstance(item.event, ShipmentStateChanged)
    ]


def at(text: str) -> datetime:
    return moment(text, ZONE)


def remember(memory: Memory, decision: Decision) -> Memory:
    anomalies = dict(memory.anomalies)
    for record in decision.records:
        anomalies[record.anomaly_type] = record
    return Memory(anomalies=anomalies, milestones=decision.milestones)


def run(
    snapshots: list[ShipmentStateChanged], *, now: datetime, policy: DetectionPolicy = POLICY
) -> tuple[Decision, Memory]:
    """Evaluate each snapshot when it happened, the last one at `now`; return the last
    decision and the memory."""
    memory = Memory.empty()
    decision = None
    for index, state in enumerate(snapshots):
        when = now if index == len(snapshots) - 1 else state.occurred_at
        decision = domain.evaluate(
            facts=ShipmentFacts.of(state), memory=memory, policy=policy, now=when
        )
        memory = remember(memory, decision)
    assert decision is not None
    return decision, memory


def of_type(decision: Decision, kind: type) -> list[Any]:
    return [event for event in decision.events if isinstance(event, kind)]


IN_TRANSIT = [
    {"at": "D0 17:00", "sub": "accepted_by_carrier", "code": "PCHMQT"},
    {"at": "D1 02:00", "sub": "arrived_at_facility", "code": "AARCFM"},
]


def test_a_redelivered_state_opens_nothing_twice() -> None:
    snapshot = states(events=[*IN_TRANSIT, {"at": "D1 12:00", "sub": "damaged", "code": "X"}])
    first, memory = run(snapshot, now=at("D1 12:05"))
    again = domain.evaluate(
        facts=ShipmentFacts.of(snapshot[-1]), memory=memory, policy=POLICY, now=at("D1 12:06")
    )
    assert [e.anomaly_type for e in of_type(first, AnomalyDetected)] == [AnomalyType.DAMAGED]
    assert again.events == ()


def test_the_same_input_gives_the_same_event_ids() -> None:
    snapshot = states(events=[*IN_TRANSIT, {"at": "D1 12:00", "sub": "damaged", "code": "X"}])
    one, _ = run(snapshot, now=at("D1 12:05"))
    two, _ = run(snapshot, now=at("D1 12:05"))
    assert [e.event_id for e in one.events] == [e.event_id for e in two.events]
    detected = of_type(one, AnomalyDetected)[0]
    assert detected.anomaly_id == anomaly_id("maison-lumiere", "unit.t", "damaged", 1)
    assert detected.severity is Severity.CRITICAL
    assert detected.evidence.tracking_event_ids == (snapshot[-1].last_event.event_id,)  # type: ignore[union-attr]


def test_the_stall_timer_moves_with_each_scan_and_is_cancelled_on_delivery() -> None:
    snapshots = states(events=IN_TRANSIT)
    after_first, _ = run(snapshots[:2], now=at("D0 17:01"))
    after_second, _ = run(snapshots, now=at("D1 02:01"))
    next_scan = {t.kind: t.due_at for t in after_second.timers}
    assert {t.kind: t.due_at for t in after_first.timers}[TimerKind.NEXT_SCAN] == at("D2 17:00")
    assert next_scan[TimerKind.NEXT_SCAN] == at("D3 02:00")
    assert next_scan[TimerKind.LOST_AFTER] == at("D1 02:00") + timedelta(hours=192)
    delivered = states(
        events=[*IN_TRANSIT, {"at": "D1 12:00", "sub": "delivered_to_recipient", "code": "L"}]
    )
    final, _ = run(delivered, now=at("D1 12:01"))
    assert final.timers == ()


def test_a_deadline_fires_only_once_reached_and_names_the_missed_deadline() -> None:
    snapshots = states(events=IN_TRANSIT)
    before, memory = run(snapshots, now=at("D3 01:59"))
    assert of_type(before, AnomalyDetected) == []
    fired = domain.evaluate(
        facts=ShipmentFacts.of(snapshots[-1]), memory=memory, policy=POLICY, now=at("D3 02:00")
    )
    (stalled,) = of_type(fired, AnomalyDetected)
    assert stalled.anomaly_type is AnomalyType.STALLED
    assert stalled.evidence.deadline.kind is DeadlineKind.NEXT_SCAN
    assert stalled.evidence.deadline.threshold_hours == 48
    assert stalled.occurred_at == at("D3 02:00")
    assert {t.kind for t in fired.timers} == {TimerKind.LOST_AFTER, TimerKind.ESCALATION}


def test_moving_again_resolves_a_stall_and_a_new_stall_is_a_new_occurrence() -> None:
    events = [*IN_TRANSIT, {"at": "D4 09:00", "sub": "departed_facility", "code": "D"}]
    snapshots = states(events=events)
    _, memory = run(snapshots[:3], now=at("D3 03:00"))
    moved = domain.evaluate(
        facts=ShipmentFacts.of(snapshots[3]), memory=memory, policy=POLICY, now=at("D4 09:01")
    )
    (resolved,) = of_type(moved, AnomalyResolved)
    assert resolved.reason is ResolutionReason.FACTS_CHANGED
    memory = remember(memory, moved)
    again = domain.evaluate(
        facts=ShipmentFacts.of(snapshots[3]), memory=memory, policy=POLICY, now=at("D6 09:00")
    )
    (second,) = of_type(again, AnomalyDetected)
    assert second.occurrence == 2
    assert second.anomaly_id == anomaly_id("maison-lumiere", "unit.t", "stalled", 2)


def test_a_switched_off_type_is_never_opened_nor_timed() -> None:
    policy = POLICY.model_copy(update={"disabled": frozenset({AnomalyType.STALLED})})
    decision, _ = run(states(events=IN_TRANSIT), now=at("D5 00:00"), policy=policy)
    assert of_type(decision, AnomalyDetected) == []
    assert TimerKind.NEXT_SCAN not in {t.kind for t in decision.timers}


def test_a_carrier_estimate_past_the_promise_is_late_before_the_promise_passes() -> None:
    events = [{**IN_TRANSIT[0], "estimate": "D4"}]
    decision, _ = run(states(promised_by="D2", events=events), now=at("D0 17:01"))
    (late,) = of_type(decision, AnomalyDetected)
    assert late.anomaly_type is AnomalyType.DELIVERY_LATE
    assert late.evidence.estimated_delivery_day == day_of("D4")


def test_an_action_completed_resolves_and_the_same_facts_do_not_reopen() -> None:
    snapshots = states(
        events=[*IN_TRANSIT, {"at": "D1 12:00", "sub": "recipient_absent", "code": "A"}]
    )
    _, memory = run(snapshots, now=at("D1 12:01"))
    record = memory.anomalies[AnomalyType.FAILED_ATTEMPT]
    completed = ActionCompleted(
        occurred_at=at("D1 15:00"),
        merchant_id="maison-lumiere",
        correlation_id="unit.t",
        shipment_id="unit.t",
        action_id=anomaly_id("x", "y", "z"),
        action="redelivery",  # type: ignore[arg-type]
        order_id="order-unit",
        order_number="#1",
        automatic=False,
        anomaly_id=record.anomaly_id,
        attempts=1,
    )
    facts = ShipmentFacts.of(snapshots[-1])
    decision = domain.on_action_result(
        result=completed, facts=facts, memory=memory, policy=POLICY, now=at("D1 15:00")
    )
    (resolved,) = of_type(decision, AnomalyResolved)
    assert resolved.reason is ResolutionReason.ACTION_COMPLETED
    assert resolved.action_id == completed.action_id
    memory = remember(memory, decision)
    later = domain.evaluate(facts=facts, memory=memory, policy=POLICY, now=at("D1 16:00"))
    assert of_type(later, AnomalyDetected) == []


def test_a_second_failed_attempt_escalates_instead_of_opening_again() -> None:
    absent = {"sub": "recipient_absent", "code": "A"}
    snapshots = states(
        events=[
            *IN_TRANSIT,
            {"at": "D1 12:00", **absent},
            {"at": "D2 08:00", "sub": "out_for_delivery_unspecified", "code": "O"},
            {"at": "D2 12:00", **absent},
        ]
    )
    _, memory = run(snapshots[:-1], now=at("D2 08:01"))
    decision = domain.evaluate(
        facts=ShipmentFacts.of(snapshots[-1]), memory=memory, policy=POLICY, now=at("D2 12:01")
    )
    assert of_type(decision, AnomalyDetected) == []
    (escalated,) = of_type(decision, AnomalyEscalated)
    assert escalated.reason is EscalationReason.SEVERITY_INCREASED
    assert escalated.severity is Severity.CRITICAL


def test_an_open_anomaly_escalates_after_the_delay_up_to_the_maximum_level() -> None:
    snapshot = states(events=[*IN_TRANSIT, {"at": "D1 12:00", "sub": "damaged", "code": "X"}])
    first, memory = run(snapshot, now=at("D1 12:00"))
    (timer,) = [t for t in first.timers if t.kind is TimerKind.ESCALATION]
    assert timer.due_at == at("D3 12:00")
    facts = ShipmentFacts.of(snapshot[-1])
    levels = []
    now = timer.due_at
    for _ in range(3):
        decision = domain.evaluate(facts=facts, memory=memory, policy=POLICY, now=now)
        memory = remember(memory, decision)
        levels += [e.level for e in of_type(decision, AnomalyEscalated)]
        now += timedelta(hours=48)
    assert levels == [1, 2]


def test_returned_to_sender_supersedes_and_carries_its_reason() -> None:
    snapshots = states(
        events=[
            *IN_TRANSIT,
            {
                "at": "D1 12:00",
                "sub": "incorrect_address",
                "code": "N",
                "incident": "recipient_incorrect_address",
            },
            {
                "at": "D2 09:00",
                "sub": "returning_to_sender",
                "code": "R",
                "incident": "recipient_incorrect_address",
            },
        ]
    )
    _, memory = run(snapshots[:-1], now=at("D1 12:01"))
    decision = domain.evaluate(
        facts=ShipmentFacts.of(snapshots[-1]), memory=memory, policy=POLICY, now=at("D2 09:01")
    )
    (returned,) = of_type(decision, AnomalyDetected)
    (superseded,) = of_type(decision, AnomalyResolved)
    assert returned.anomaly_type is AnomalyType.RETURNED_TO_SENDER
    assert returned.evidence.incident.reason.value == "recipient_incorrect_address"  # type: ignore[union-attr]
    assert superseded.anomaly_type is AnomalyType.ADDRESS_PROBLEM
    assert superseded.reason is ResolutionReason.SUPERSEDED
    assert superseded.superseded_by == returned.anomaly_id


def test_a_cancelled_order_resolves_everything_and_keeps_no_timer() -> None:
    snapshots = states(ship_by="D1 12:00", cancelled="D2 09:00")
    _, memory = run(snapshots[:1], now=at("D1 13:00"))
    assert memory.anomalies[AnomalyType.PREPARATION_DELAY].open
    decision = domain.evaluate(
        facts=ShipmentFacts.of(snapshots[-1]), memory=memory, policy=POLICY, now=at("D2 09:01")
    )
    (resolved,) = of_type(decision, AnomalyResolved)
    assert resolved.reason is ResolutionReason.ORDER_CANCELLED
    assert decision.timers == ()


def test_timers_are_always_strictly_in_the_future() -> None:
    snapshots = states(ship_by="D1 12:00", promised_by="D2", events=IN_TRANSIT)
    for hours in range(0, 24 * 12, 7):
        now = at("D0 09:00") + timedelta(hours=hours)
        decision, _ = run(snapshots, now=now)
        assert all(timer.due_at > now for timer in decision.timers)


def test_the_policy_refuses_lost_before_stalled() -> None:
    with pytest.raises(ValidationError, match="lost_after_hours"):
        DetectionPolicy(stalled_after_hours=72, lost_after_hours=48)
    with pytest.raises(ValidationError, match="disabled"):
        DetectionPolicy.model_validate({"disabled": ["not_a_type"]})
