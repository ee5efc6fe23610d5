"""`evaluate`, the only decision function: a new shipment state, a fired timer and an
action result all end in it.

Rules:
- timers are only wake-ups: when one fires, the facts are evaluated again at the
  clock's `now`, so a stale timer decides nothing;
- a type is open at most once at a time; a resolved type opens again (occurrence + 1)
  only for a new episode, so neither a redelivered input nor an anomaly resolved by an
  action can re-open it;
- a graver type supersedes a lighter one (rules.SUPERSEDES): the lighter one is
  resolved `superseded`, and is not opened while the graver one holds or is open;
- how the facts clear an open anomaly depends on its type (rules.CLEARS);
- the returned timers are the whole set the shipment needs, all strictly in the
  future: the caller replaces the stored set with it (moved, added, cancelled).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from uuid import UUID

from relais_contracts.catalogue import (
    AnomalyType,
    EscalationReason,
    Milestone,
    ResolutionReason,
    Severity,
)
from relais_contracts.tracking import TrackingStatus
from relais_detector.domain.deadlines import deadlines
from relais_detector.domain.decision import Decision, DecisionBuilder
from relais_detector.domain.facts import ShipmentFacts
from relais_detector.domain.memory import AnomalyRecord, Memory
from relais_detector.domain.rules import (
    CLEARS,
    ESCALATES_ON_NEW_EPISODE,
    Clears,
    graver,
    superseding,
)
from relais_detector.domain.timers import Timer, TimerKind, timer_order
from relais_detector.domain.triggers import DECLARED_EPISODE_PREFIX, Trigger, triggers_at
from relais_runtime.merchants.detection import DetectionPolicy


def evaluate(
    *,
    facts: ShipmentFacts,
    memory: Memory,
    policy: DetectionPolicy,
    now: datetime,
    cause_event_id: UUID | None = None,
) -> Decision:
    """Decide everything the facts imply at `now` (see the module rules)."""
    return decide(DecisionBuilder(facts, memory, now), policy, cause_event_id=cause_event_id)


def decide(
    builder: DecisionBuilder, policy: DetectionPolicy, *, cause_event_id: UUID | None
) -> Decision:
    """Complete a decision from the builder's facts at its `now`, on top of what the
    builder already holds (an action result's resolution or escalation)."""
    facts, now = builder.facts, builder.now
    if facts.cancelled:
        for record in builder.open_records():
            builder.resolve(record, ResolutionReason.ORDER_CANCELLED, cause_event_id=cause_event_id)
        return builder.decision(())
    triggers = triggers_at(facts, policy, now)
    present = [*triggers, *(record.anomaly_type for record in builder.open_records())]
    triggers = {
        kind: trigger for kind, trigger in triggers.items() if superseding(kind, present) is None
    }
    _open_new(builder, triggers, cause_event_id=cause_event_id)
    _supersede_open(builder, cause_event_id=cause_event_id)
    _resolve_cleared(builder, triggers, cause_event_id=cause_event_id)
    _reach_milestones(builder)
    escalation_timers = _escalate_overdue(builder, policy)
    return builder.decision(
        tuple(sorted([*_deadline_timers(builder, policy), *escalation_timers], key=timer_order))
    )


def _open_new(
    builder: DecisionBuilder,
    triggers: Mapping[AnomalyType, Trigger],
    *,
    cause_event_id: UUID | None,
) -> None:
    """Open each type that holds, unless it is open or resolved for the same episode."""
    for kind, trigger in triggers.items():
        record = builder.records.get(kind)
        if record is not None and record.open:
            _renew(builder, record, trigger, cause_event_id=cause_event_id)
        elif record is None or record.episode != trigger.episode:
            builder.detect(trigger, occurrence=record.occurrence + 1 if record else 1)


def _renew(
    builder: DecisionBuilder,
    record: AnomalyRecord,
    trigger: Trigger,
    *,
    cause_event_id: UUID | None,
) -> None:
    """A new episode of an open type escalates it, or replaces it by a new occurrence
    when the type clears with its condition; the same episode changes nothing."""
    if trigger.episode == record.episode:
        return
    if record.anomaly_type in ESCALATES_ON_NEW_EPISODE:
        builder.escalate(
            record,
            EscalationReason.SEVERITY_INCREASED,
            severity=graver(record.severity),
            cause_event_id=cause_event_id,
            episode=trigger.episode,
        )
    elif CLEARS[record.anomaly_type] is Clears.WHEN_CONDITION_ENDS:
        builder.resolve(record, ResolutionReason.FACTS_CHANGED, cause_event_id=cause_event_id)
        builder.detect(trigger, occurrence=record.occurrence + 1)


def _supersede_open(builder: DecisionBuilder, *, cause_event_id: UUID | None) -> None:
    for record in builder.open_records():
        kinds = [r.anomaly_type for r in builder.open_records()]
        graver_kind = superseding(record.anomaly_type, kinds)
        if graver_kind is not None:
            builder.resolve(
                record,
                ResolutionReason.SUPERSEDED,
                cause_event_id=cause_event_id,
                superseded_by=builder.records[graver_kind].anomaly_id,
            )


def _resolve_cleared(
    builder: DecisionBuilder,
    triggers: Mapping[AnomalyType, Trigger],
    *,
    cause_event_id: UUID | None,
) -> None:
    for record in builder.open_records():
        rule = CLEARS[record.anomaly_type]
        cleared = (rule is Clears.WHEN_CONDITION_ENDS and record.anomaly_type not in triggers) or (
            rule is Clears.WHEN_DELIVERED and builder.facts.delivered
        )
        if cleared:
            builder.resolve(record, ResolutionReason.FACTS_CHANGED, cause_event_id=cause_event_id)


def _reach_milestones(builder: DecisionBuilder) -> None:
    """Delivered ends the journey; before it, shipped then out for delivery."""
    facts = builder.facts
    if facts.delivered:
        builder.reach(Milestone.DELIVERED, at=facts.delivered_at or facts.status_since)
        return
    if facts.final or facts.shipped_at is None:
        return
    builder.reach(Milestone.SHIPPED, at=facts.shipped_at)
    if facts.status is TrackingStatus.OUT_FOR_DELIVERY:
        builder.reach(Milestone.OUT_FOR_DELIVERY, at=facts.status_since)


def _escalate_overdue(builder: DecisionBuilder, policy: DetectionPolicy) -> list[Timer]:
    """Escalate open anomalies past their delay; return the next escalation timers."""
    if policy.escalate_after_hours is None:
        return []
    delay = timedelta(hours=policy.escalate_after_hours)
    timers: list[Timer] = []
    for record in builder.open_records():
        if record.severity is Severity.INFO or record.level >= policy.max_escalation_level:
            continue
        due = (record.escalated_at or record.opened_at) + delay
        if due <= builder.now:
            builder.escalate(record, EscalationReason.UNRESOLVED_TIMEOUT)
            if record.level + 1 >= policy.max_escalation_level:
                continue
            due = builder.now + delay
        timers.append(Timer(f"escalation:{record.anomaly_type.value}", TimerKind.ESCALATION, due))
    return timers


def _deadline_timers(builder: DecisionBuilder, policy: DetectionPolicy) -> list[Timer]:
    """A timer for each future deadline whose type could still open for its episode (an
    anomaly open for a declared delay still needs its new promise's timer)."""
    timers: list[Timer] = []
    for deadline in deadlines(builder.facts, policy):
        kind = deadline.anomaly_type
        record = builder.records.get(kind)
        if not policy.enabled(kind) or deadline.due_at <= builder.now:
            continue
        if record is not None and (
            (record.open and not record.episode.startswith(DECLARED_EPISODE_PREFIX))
            or record.episode == deadline.episode
        ):
            continue
        timers.append(Timer(deadline.kind.value, deadline.kind, deadline.due_at))
    return timers
