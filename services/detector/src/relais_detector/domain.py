"""The detector's decisions, as pure functions of (facts, memory, policy, now).

Rules:
- `evaluate` is the only decision function: a new shipment state, a fired timer and
  an action result all end in it. Timers are only wake-ups: when one fires, the
  facts are evaluated again at the clock's `now`, so a stale timer decides nothing;
- a condition (a "trigger") says an anomaly type holds now, with its evidence and
  its *episode*: the fact it is about (the promise missed, the scan it stalled
  after, the attempt number). A type is open at most once at a time; a resolved
  type opens again (occurrence + 1) only for a new episode, so neither a
  redelivered input nor an anomaly resolved by an action can re-open it;
- a graver type supersedes a lighter one (`SUPERSEDES`): the lighter one is
  resolved `superseded`, and is not opened while the graver one holds or is open;
- how the facts clear an open anomaly depends on its type (`CLEARS`): when its
  condition ends, when the parcel is delivered, or never (only an action, a
  supersession or a cancellation closes it);
- the returned timers are the whole set the shipment needs, all strictly in the
  future: the caller replaces the stored set with it (moved, added, cancelled);
- every id is derived (relais_contracts.ids), so evaluating the same input twice
  produces the same events, which the outbox and consumers drop as duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

from relais_contracts.catalogue import (
    ANOMALY_TYPES,
    AnomalyType,
    EscalationReason,
    Milestone,
    ResolutionReason,
    Severity,
)
from relais_contracts.common import DeliveryMode
from relais_contracts.envelope import Contract
from relais_contracts.ids import anomaly_id, derived_id, milestone_id
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics.action_results import ActionCompleted, ActionFailed
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyEvent,
    AnomalyResolved,
    DeadlineKind,
    Evidence,
    MissedDeadline,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import Incident, IncidentReason, Substatus, TrackingStatus
from relais_runtime.merchants.detection import DetectionPolicy

A = AnomalyType
S = Substatus
R = IncidentReason


class ShipmentFacts(Contract):
    """What the detector keeps of a shipment state: no personal data."""

    merchant_id: str
    shipment_id: str
    version: int
    cancelled: bool
    final: bool
    status: TrackingStatus
    substatus: Substatus
    incident: Incident | None
    status_since: datetime
    last_event_id: UUID | None
    last_event_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    failed_attempts: int
    promised_ship_by: datetime | None
    promised_delivery_by: date | None
    estimated_delivery_day: date | None
    delivery_mode: DeliveryMode
    pickup_hold_deadline: datetime | None
    time_zone: str
    context: ShipmentContext

    @classmethod
    def of(cls, state: ShipmentStateChanged) -> ShipmentFacts:
        last = state.last_event
        return cls(
            merchant_id=state.merchant_id,
            shipment_id=state.shipment_id,
            version=state.version,
            cancelled=state.cancelled,
            final=state.final,
            status=state.status,
            substatus=state.substatus,
            incident=state.incident,
            status_since=state.status_since,
            last_event_id=last.event_id if last else None,
            last_event_at=last.occurred_at if last else None,
            shipped_at=state.shipped_at,
            delivered_at=state.delivered_at,
            failed_attempts=state.failed_attempts,
            promised_ship_by=state.promised_ship_by,
            promised_delivery_by=state.promised_delivery_by,
            estimated_delivery_day=state.estimated_delivery.day
            if state.estimated_delivery
            else None,
            delivery_mode=state.delivery.mode,
            pickup_hold_deadline=state.pickup_hold_deadline,
            time_zone=state.customer.time_zone,
            context=state.context(),
        )

    @property
    def delivered(self) -> bool:
        return self.status is TrackingStatus.DELIVERED

    @property
    def arrived(self) -> bool:
        """Delivered, or waiting at the pickup point the customer chose."""
        return self.delivered or (
            self.status is TrackingStatus.AVAILABLE_FOR_PICKUP
            and self.delivery_mode is DeliveryMode.PICKUP_POINT
        )


class TimerKind(StrEnum):
    SHIP_BY = "ship_by"
    PROMISED_DELIVERY = "promised_delivery"
    NEXT_SCAN = "next_scan"
    LOST_AFTER = "lost_after"
    PICKUP_HOLD = "pickup_hold"
    ESCALATION = "escalation"


@dataclass(frozen=True)
class Timer:
    """A durable wake-up: one per (shipment, key)."""

    key: str
    kind: TimerKind
    due_at: datetime


@dataclass(frozen=True)
class AnomalyRecord:
    """One occurrence of one anomaly type on one shipment."""

    anomaly_type: AnomalyType
    anomaly_id: UUID
    occurrence: int
    episode: str
    severity: Severity
    level: int
    opened_at: datetime
    escalated_at: datetime | None = None
    resolution: ResolutionReason | None = None
    resolved_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.resolution is None


@dataclass(frozen=True)
class Memory:
    """What the detector already decided for a shipment: the latest occurrence of each
    type, and the milestones already announced."""

    anomalies: Mapping[AnomalyType, AnomalyRecord]
    milestones: frozenset[Milestone] = frozenset()

    @classmethod
    def empty(cls) -> Memory:
        return cls(anomalies={})


@dataclass(frozen=True)
class Decision:
    events: tuple[AnomalyEvent, ...]
    records: tuple[AnomalyRecord, ...]
    """Records opened or changed (escalated, resolved, new episode)."""
    milestones: frozenset[Milestone]
    """Every milestone announced so far, new ones included."""
    timers: tuple[Timer, ...]
    """The whole set of timers the shipment needs now, each due strictly after `now`."""


class Clears(StrEnum):
    WHEN_CONDITION_ENDS = "when_condition_ends"
    WHEN_DELIVERED = "when_delivered"
    NEVER = "never"


CLEARS: Final[dict[AnomalyType, Clears]] = {
    A.PREPARATION_DELAY: Clears.WHEN_CONDITION_ENDS,
    A.DELIVERY_LATE: Clears.WHEN_CONDITION_ENDS,
    A.STALLED: Clears.WHEN_CONDITION_ENDS,
    A.LOST: Clears.WHEN_CONDITION_ENDS,
    A.FAILED_ATTEMPT: Clears.WHEN_DELIVERED,
    A.ADDRESS_PROBLEM: Clears.WHEN_DELIVERED,
    A.RETURNED_TO_SENDER: Clears.NEVER,
    A.DAMAGED: Clears.NEVER,
    A.REFUSED: Clears.NEVER,
    A.PICKUP_READY: Clears.WHEN_CONDITION_ENDS,
    A.PICKUP_HOLD_EXPIRING: Clears.WHEN_CONDITION_ENDS,
    A.DELIVERED_TO_THIRD_PARTY: Clears.NEVER,
    A.HELD_AT_CUSTOMS: Clears.WHEN_CONDITION_ENDS,
}

SUPERSEDES: Final[dict[AnomalyType, frozenset[AnomalyType]]] = {
    A.LOST: frozenset({A.STALLED, A.DELIVERY_LATE}),
    A.PICKUP_HOLD_EXPIRING: frozenset({A.PICKUP_READY}),
    A.RETURNED_TO_SENDER: frozenset(
        {
            A.DELIVERY_LATE,
            A.STALLED,
            A.LOST,
            A.FAILED_ATTEMPT,
            A.ADDRESS_PROBLEM,
            A.DAMAGED,
            A.REFUSED,
            A.PICKUP_READY,
            A.PICKUP_HOLD_EXPIRING,
            A.HELD_AT_CUSTOMS,
        }
    ),
}
"""Graver type -> the lighter types it replaces."""

ESCALATES_ON_NEW_EPISODE: Final = frozenset({A.FAILED_ATTEMPT})
"""Types for which a new episode while open escalates (a second failed attempt)
instead of opening a second occurrence."""

MOVING_STATUSES: Final = frozenset(
    {
        TrackingStatus.PENDING,
        TrackingStatus.INFO_RECEIVED,
        TrackingStatus.IN_TRANSIT,
        TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.FAILED_ATTEMPT,
    }
)
DELAY_SUBSTATUSES: Final = frozenset(
    {S.EXCEPTION_UNSPECIFIED, S.DELAYED, S.DELAYED_WEATHER, S.DELAYED_PROCESSING}
    | {S.DELAYED_EXTERNAL, S.HELD_BY_CARRIER}
)
ADDRESS_SUBSTATUSES: Final = frozenset(
    {S.INCORRECT_ADDRESS, S.INCOMPLETE_ADDRESS, S.CUSTOMER_MOVED}
)
ADDRESS_REASONS: Final = frozenset(
    {
        R.RECIPIENT_INCORRECT_ADDRESS,
        R.RECIPIENT_INCOMPLETE_ADDRESS,
        R.RECIPIENT_MOVED,
        R.CARRIER_ADDRESS_NOT_FOUND,
    }
)
RETURN_SUBSTATUSES: Final = frozenset(
    {S.RETURNING_TO_SENDER, S.RETURNED_TO_SENDER, S.PICKUP_HOLD_EXPIRED}
)
THIRD_PARTY_SUBSTATUSES: Final = frozenset(
    {
        S.DELIVERED_TO_NEIGHBOUR,
        S.DELIVERED_TO_RECEPTION,
        S.DELIVERED_TO_THIRD_PARTY,
        S.DELIVERED_TO_SAFE_PLACE,
    }
)
CUSTOMS_REASONS: Final = frozenset(
    {R.CUSTOMS_DELAY, R.CUSTOMS_DOCUMENTATION, R.CUSTOMS_DUTIES_UNPAID, R.CUSTOMS_INSPECTION}
    | {R.CUSTOMS_PROHIBITED}
)


@dataclass(frozen=True)
class Trigger:
    """An anomaly type that holds now, why, and since when."""

    anomaly_type: AnomalyType
    episode: str
    at: datetime
    tracking_event_ids: tuple[UUID, ...] = ()
    deadline: MissedDeadline | None = None
    incident: Incident | None = None
    estimated_delivery_day: date | None = None


@dataclass(frozen=True)
class Deadline:
    """When a time-driven type will hold if nothing changes."""

    anomaly_type: AnomalyType
    kind: TimerKind
    due_at: datetime
    episode: str
    threshold_hours: float | None


# --- conditions ---------------------------------------------------------------


def moving(facts: ShipmentFacts) -> bool:
    """Handed to the carrier, not over, and a next scan is expected."""
    if facts.final or facts.cancelled or facts.shipped_at is None:
        return False
    return facts.status in MOVING_STATUSES or facts.substatus in DELAY_SUBSTATUSES


def scan_reference(facts: ShipmentFacts) -> datetime | None:
    return facts.last_event_at or facts.shipped_at


def promised_delivery_deadline(facts: ShipmentFacts, policy: DetectionPolicy) -> datetime | None:
    """End of the last promised day in the customer's time zone, plus the grace."""
    if facts.promised_delivery_by is None:
        return None
    next_day = facts.promised_delivery_by + timedelta(days=1)
    end = datetime.combine(next_day, time(0), tzinfo=ZoneInfo(facts.time_zone))
    return end + timedelta(hours=policy.delivery_late_grace_hours)


def deadlines(facts: ShipmentFacts, policy: DetectionPolicy) -> list[Deadline]:
    """Every deadline the current facts set (reached or not)."""
    if facts.cancelled or facts.final:
        return []
    found: list[Deadline] = []
    if facts.promised_ship_by is not None and facts.shipped_at is None:
        grace = policy.preparation_grace_hours
        found.append(
            Deadline(
                A.PREPARATION_DELAY,
                TimerKind.SHIP_BY,
                facts.promised_ship_by + timedelta(hours=grace),
                f"ship-by:{facts.promised_ship_by.isoformat()}",
                grace,
            )
        )
    promise_end = promised_delivery_deadline(facts, policy)
    if promise_end is not None and not facts.arrived:
        found.append(
            Deadline(
                A.DELIVERY_LATE,
                TimerKind.PROMISED_DELIVERY,
                promise_end,
                f"promise:{facts.promised_delivery_by}",
                policy.delivery_late_grace_hours,
            )
        )
    reference = scan_reference(facts)
    if moving(facts) and reference is not None:
        stalled, lost = policy.stalled_after_hours, policy.lost_after_hours
        found.append(
            Deadline(
                A.STALLED,
                TimerKind.NEXT_SCAN,
                reference + timedelta(hours=stalled),
                f"since:{reference.isoformat()}",
                stalled,
            )
        )
        found.append(
            Deadline(A.LOST, TimerKind.LOST_AFTER, reference + timedelta(hours=lost), "lost", lost)
        )
    if (
        facts.status is TrackingStatus.AVAILABLE_FOR_PICKUP
        and facts.pickup_hold_deadline is not None
    ):
        warning = policy.pickup_hold_warning_hours
        due = facts.pickup_hold_deadline - timedelta(hours=warning)
        found.append(
            Deadline(
                A.PICKUP_HOLD_EXPIRING,
                TimerKind.PICKUP_HOLD,
                due,
                f"hold:{facts.pickup_hold_deadline.isoformat()}",
                warning,
            )
        )
    return found


def _event_trigger(
    facts: ShipmentFacts,
    anomaly_type: AnomalyType,
    episode: str,
    *,
    incident: Incident | None = None,
    estimated_delivery_day: date | None = None,
) -> Trigger | None:
    if facts.last_event_id is None:
        return None
    return Trigger(
        anomaly_type,
        episode,
        at=facts.last_event_at or facts.status_since,
        tracking_event_ids=(facts.last_event_id,),
        incident=incident if incident is not None else facts.incident,
        estimated_delivery_day=estimated_delivery_day,
    )


def event_triggers(facts: ShipmentFacts) -> list[Trigger]:
    """Types a carrier event says hold now."""
    if facts.cancelled:
        return []
    sub, status = facts.substatus, facts.status
    reason = facts.incident.reason if facts.incident else None
    wanted: list[tuple[AnomalyType, str, Incident | None]] = []
    if status is TrackingStatus.FAILED_ATTEMPT:
        wanted.append((A.FAILED_ATTEMPT, f"attempt:{max(facts.failed_attempts, 1)}", None))
    if sub in ADDRESS_SUBSTATUSES or reason in ADDRESS_REASONS:
        wanted.append((A.ADDRESS_PROBLEM, "address", None))
    if sub in RETURN_SUBSTATUSES:
        incident = facts.incident
        if incident is None and sub is S.PICKUP_HOLD_EXPIRED:
            incident = Incident.of(R.RECIPIENT_PICKUP_MISSED)
        wanted.append((A.RETURNED_TO_SENDER, "return", incident))
    if sub in {S.DAMAGED, S.DELIVERED_DAMAGED} or reason is R.CARRIER_DAMAGED_PARCEL:
        wanted.append((A.DAMAGED, "damaged", None))
    if sub is S.REFUSED_BY_RECIPIENT or reason is R.RECIPIENT_REFUSED:
        wanted.append((A.REFUSED, "refused", None))
    if status is TrackingStatus.AVAILABLE_FOR_PICKUP:
        wanted.append((A.PICKUP_READY, "pickup", None))
    if sub in THIRD_PARTY_SUBSTATUSES:
        wanted.append((A.DELIVERED_TO_THIRD_PARTY, "third-party", None))
    if sub is S.HELD_AT_CUSTOMS or (
        status is TrackingStatus.EXCEPTION and reason in CUSTOMS_REASONS
    ):
        wanted.append((A.HELD_AT_CUSTOMS, "customs", None))
    if sub is S.LOST or status is TrackingStatus.EXPIRED:
        wanted.append((A.LOST, "lost", None))
    triggers = [_event_trigger(facts, kind, episode, incident=inc) for kind, episode, inc in wanted]
    late = _estimate_past_promise(facts)
    if late is not None:
        triggers.append(late)
    return [trigger for trigger in triggers if trigger is not None]


def _estimate_past_promise(facts: ShipmentFacts) -> Trigger | None:
    promise, estimate = facts.promised_delivery_by, facts.estimated_delivery_day
    if promise is None or estimate is None or estimate <= promise or facts.arrived or facts.final:
        return None
    return _event_trigger(
        facts, A.DELIVERY_LATE, f"promise:{promise}", estimated_delivery_day=estimate
    )


def triggers_at(
    facts: ShipmentFacts, policy: DetectionPolicy, now: datetime
) -> dict[AnomalyType, Trigger]:
    """Every enabled type that holds at `now`, graver types hiding the ones they supersede."""
    found: dict[AnomalyType, Trigger] = {}
    for trigger in event_triggers(facts):
        found.setdefault(trigger.anomaly_type, trigger)
    for deadline in deadlines(facts, policy):
        if deadline.due_at <= now and deadline.anomaly_type not in found:
            found[deadline.anomaly_type] = _deadline_trigger(facts, deadline)
    return {kind: trigger for kind, trigger in found.items() if policy.enabled(kind)}


def _deadline_trigger(facts: ShipmentFacts, deadline: Deadline) -> Trigger:
    scans = deadline.kind in {TimerKind.NEXT_SCAN, TimerKind.LOST_AFTER}
    return Trigger(
        deadline.anomaly_type,
        deadline.episode,
        at=deadline.due_at,
        tracking_event_ids=(facts.last_event_id,) if scans and facts.last_event_id else (),
        deadline=MissedDeadline(
            kind=DeadlineKind(deadline.kind.value),
            due_at=deadline.due_at,
            threshold_hours=deadline.threshold_hours,
        ),
    )


def superseding(kind: AnomalyType, present: Iterable[AnomalyType]) -> AnomalyType | None:
    """The graver type among `present` that replaces `kind`, if any."""
    for graver in present:
        if kind in SUPERSEDES.get(graver, frozenset()):
            return graver
    return None


# --- evaluation -----------------------------------------------------------------


class _Builder:
    """Accumulates one evaluation's events and record changes."""

    def __init__(self, facts: ShipmentFacts, memory: Memory, now: datetime) -> None:
        self.facts = facts
        self.now = now
        self.records: dict[AnomalyType, AnomalyRecord] = dict(memory.anomalies)
        self.changed: dict[tuple[AnomalyType, int], AnomalyRecord] = {}
        self.events: list[AnomalyEvent] = []
        self.milestones = set(memory.milestones)

    def open_records(self) -> list[AnomalyRecord]:
        return [record for record in self.records.values() if record.open]

    def save(self, record: AnomalyRecord) -> None:
        self.records[record.anomaly_type] = record
        self.changed[(record.anomaly_type, record.occurrence)] = record

    def _envelope(self, kind: str, *parts: str, occurred_at: datetime) -> dict[str, Any]:
        return {
            "event_id": derived_id(kind, *parts),
            "occurred_at": occurred_at,
            "produced_at": self.now,
            "merchant_id": self.facts.merchant_id,
            "correlation_id": self.facts.shipment_id,
            "shipment_id": self.facts.shipment_id,
        }

    def resolve(
        self,
        record: AnomalyRecord,
        reason: ResolutionReason,
        *,
        cause_event_id: UUID | None = None,
        action_id: UUID | None = None,
        superseded_by: UUID | None = None,
    ) -> None:
        self.save(replace(record, resolution=reason, resolved_at=self.now))
        self.events.append(
            AnomalyResolved(
                **self._envelope("anomaly-resolved", str(record.anomaly_id), occurred_at=self.now),
                anomaly_id=record.anomaly_id,
                anomaly_type=record.anomaly_type,
                reason=reason,
                cause_event_id=cause_event_id,
                action_id=action_id,
                superseded_by=superseded_by,
                status=self.facts.status,
                substatus=self.facts.substatus,
            )
        )

    def detect(self, trigger: Trigger, *, occurrence: int) -> AnomalyRecord:
        kind = trigger.anomaly_type
        identifier = anomaly_id(self.facts.merchant_id, self.facts.shipment_id, kind, occurrence)
        severity = ANOMALY_TYPES[kind].default_severity
        record = AnomalyRecord(kind, identifier, occurrence, trigger.episode, severity, 0, self.now)
        self.save(record)
        self.events.append(
            AnomalyDetected(
                **self._envelope("anomaly-detected", str(identifier), occurred_at=trigger.at),
                anomaly_id=identifier,
                anomaly_type=kind,
                occurrence=occurrence,
                severity=severity,
                evidence=Evidence(
                    tracking_event_ids=trigger.tracking_event_ids,
                    deadline=trigger.deadline,
                    status=self.facts.status,
                    substatus=self.facts.substatus,
                    incident=trigger.incident,
                    estimated_delivery_day=trigger.estimated_delivery_day,
                ),
                shipment=self.facts.context,
            )
        )
        return record

    def escalate(
        self,
        record: AnomalyRecord,
        reason: EscalationReason,
        *,
        severity: Severity | None = None,
        cause_event_id: UUID | None = None,
        episode: str | None = None,
    ) -> None:
        level = record.level + 1
        updated = replace(
            record,
            level=level,
            escalated_at=self.now,
            severity=severity or record.severity,
            episode=episode or record.episode,
        )
        self.save(updated)
        self.events.append(
            AnomalyEscalated(
                **self._envelope(
                    "anomaly-escalated", str(record.anomaly_id), str(level), occurred_at=self.now
                ),
                anomaly_id=record.anomaly_id,
                anomaly_type=record.anomaly_type,
                level=level,
                severity=updated.severity,
                reason=reason,
                cause_event_id=cause_event_id,
                shipment=self.facts.context,
            )
        )

    def reach(self, milestone: Milestone, *, at: datetime) -> None:
        if milestone in self.milestones:
            return
        self.milestones.add(milestone)
        identifier = milestone_id(self.facts.merchant_id, self.facts.shipment_id, milestone)
        self.events.append(
            ShipmentMilestoneReached(
                **self._envelope("milestone-reached", str(identifier), occurred_at=at),
                milestone_id=identifier,
                milestone=milestone,
                tracking_event_id=self.facts.last_event_id,
                shipment=self.facts.context,
            )
        )

    def decision(self, timers: tuple[Timer, ...]) -> Decision:
        return Decision(
            events=tuple(self.events),
            records=tuple(self.changed.values()),
            milestones=frozenset(self.milestones),
            timers=timers,
        )


def evaluate(
    *,
    facts: ShipmentFacts,
    memory: Memory,
    policy: DetectionPolicy,
    now: datetime,
    cause_event_id: UUID | None = None,
) -> Decision:
    """Decide everything the facts imply at `now` (see the module rules)."""
    return _evaluate(_Builder(facts, memory, now), policy, cause_event_id=cause_event_id)


def _evaluate(
    builder: _Builder, policy: DetectionPolicy, *, cause_event_id: UUID | None
) -> Decision:
    facts, now = builder.facts, builder.now
    if facts.cancelled:
        for record in builder.open_records():
            builder.resolve(record, ResolutionReason.ORDER_CANCELLED, cause_event_id=cause_event_id)
        return builder.decision(())
    triggers = triggers_at(facts, policy, now)
    graver = [*triggers, *(record.anomaly_type for record in builder.open_records())]
    triggers = {
        kind: trigger for kind, trigger in triggers.items() if superseding(kind, graver) is None
    }
    _open_new(builder, triggers, cause_event_id=cause_event_id)
    _resolve_cleared(builder, triggers, cause_event_id=cause_event_id)
    _reach_milestones(builder)
    escalation_timers = _escalate_overdue(builder, policy)
    return builder.decision(
        tuple(sorted([*_deadline_timers(builder, policy), *escalation_timers], key=_timer_order))
    )


def _open_new(
    builder: _Builder, triggers: Mapping[AnomalyType, Trigger], *, cause_event_id: UUID | None
) -> None:
    for kind, trigger in triggers.items():
        record = builder.records.get(kind)
        if record is not None and record.open:
            if kind in ESCALATES_ON_NEW_EPISODE and trigger.episode != record.episode:
                builder.escalate(
                    record,
                    EscalationReason.SEVERITY_INCREASED,
                    severity=_graver(record.severity),
                    cause_event_id=cause_event_id,
                    episode=trigger.episode,
                )
            elif CLEARS[kind] is Clears.WHEN_CONDITION_ENDS and trigger.episode != record.episode:
                builder.resolve(
                    record, ResolutionReason.FACTS_CHANGED, cause_event_id=cause_event_id
                )
                builder.detect(trigger, occurrence=record.occurrence + 1)
            continue
        if record is not None and record.episode == trigger.episode:
            continue
        builder.detect(trigger, occurrence=record.occurrence + 1 if record else 1)
    for record in builder.open_records():
        graver = superseding(record.anomaly_type, [r.anomaly_type for r in builder.open_records()])
        if graver is not None:
            builder.resolve(
                record,
                ResolutionReason.SUPERSEDED,
                cause_event_id=cause_event_id,
                superseded_by=builder.records[graver].anomaly_id,
            )


def _resolve_cleared(
    builder: _Builder, triggers: Mapping[AnomalyType, Trigger], *, cause_event_id: UUID | None
) -> None:
    for record in builder.open_records():
        rule = CLEARS[record.anomaly_type]
        cleared = (rule is Clears.WHEN_CONDITION_ENDS and record.anomaly_type not in triggers) or (
            rule is Clears.WHEN_DELIVERED and builder.facts.delivered
        )
        if cleared:
            builder.resolve(record, ResolutionReason.FACTS_CHANGED, cause_event_id=cause_event_id)


def _reach_milestones(builder: _Builder) -> None:
    facts = builder.facts
    if facts.delivered:
        builder.reach(Milestone.DELIVERED, at=facts.delivered_at or facts.status_since)
        return
    if facts.final or facts.shipped_at is None:
        return
    builder.reach(Milestone.SHIPPED, at=facts.shipped_at)
    if facts.status is TrackingStatus.OUT_FOR_DELIVERY:
        builder.reach(Milestone.OUT_FOR_DELIVERY, at=facts.status_since)


def _escalate_overdue(builder: _Builder, policy: DetectionPolicy) -> list[Timer]:
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


def _deadline_timers(builder: _Builder, policy: DetectionPolicy) -> list[Timer]:
    timers: list[Timer] = []
    for deadline in deadlines(builder.facts, policy):
        kind = deadline.anomaly_type
        record = builder.records.get(kind)
        if not policy.enabled(kind) or deadline.due_at <= builder.now:
            continue
        if record is not None and (record.open or record.episode == deadline.episode):
            continue
        timers.append(Timer(deadline.kind.value, deadline.kind, deadline.due_at))
    return timers


def _timer_order(timer: Timer) -> tuple[datetime, str]:
    return timer.due_at, timer.key


def _graver(severity: Severity) -> Severity:
    return Severity.CRITICAL if severity is not Severity.INFO else Severity.WARNING


# --- action results -----------------------------------------------------------


def on_action_result(
    *,
    result: ActionCompleted | ActionFailed,
    facts: ShipmentFacts,
    memory: Memory,
    policy: DetectionPolicy,
    now: datetime,
) -> Decision:
    """A completed action resolves its anomaly; a failed one handed to a human escalates it.

    A result for an anomaly that is not open (already resolved, or unknown) changes
    nothing but the timers.
    """
    builder = _Builder(facts, memory, now)
    record = next((r for r in builder.open_records() if r.anomaly_id == result.anomaly_id), None)
    if record is not None and isinstance(result, ActionCompleted):
        builder.resolve(
            record,
            ResolutionReason.ACTION_COMPLETED,
            cause_event_id=result.event_id,
            action_id=result.action_id,
        )
    elif record is not None and isinstance(result, ActionFailed) and result.escalated:
        builder.escalate(
            record,
            EscalationReason.ACTION_FAILED,
            severity=_graver(record.severity),
            cause_event_id=result.event_id,
        )
    return _evaluate(builder, policy, cause_event_id=result.event_id)
