"""The anomaly types that hold at a given instant: said by the last carrier event, by a
deadline `now` has passed, or by the merchant's declaration that the order is late; a
carrier event's word wins over a deadline's, and a deadline's over a declaration's, for
the same type.

A declared delay holds from the moment it is declared (no grace period): before the
parcel ships it is a preparation_delay, after it a delivery_late, until the parcel
arrives; its episode is the declaration, so each declaration is told once, and once the
new promise itself is missed its deadline opens the next occurrence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from relais_contracts.catalogue import AnomalyType
from relais_contracts.shipment import DeclaredDelay
from relais_contracts.topics.anomalies import DeadlineKind, MissedDeadline
from relais_contracts.tracking import Incident
from relais_detector.domain.carrier_events import carrier_signals
from relais_detector.domain.deadlines import Deadline, deadlines
from relais_detector.domain.facts import ShipmentFacts
from relais_detector.domain.timers import TimerKind
from relais_runtime.merchants.detection import DetectionPolicy


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
    declared_delay: DeclaredDelay | None = None


def event_triggers(facts: ShipmentFacts) -> list[Trigger]:
    """Types a carrier event says hold now (none before the first carrier event)."""
    if facts.last_event_id is None:
        return []
    return [
        Trigger(
            signal.anomaly_type,
            signal.episode,
            at=facts.last_event_at or facts.status_since,
            tracking_event_ids=(facts.last_event_id,),
            incident=signal.incident if signal.incident is not None else facts.incident,
            estimated_delivery_day=signal.estimated_delivery_day,
        )
        for signal in carrier_signals(facts)
    ]


def deadline_trigger(facts: ShipmentFacts, deadline: Deadline) -> Trigger:
    """A reached deadline holds since its due time; a missed scan cites the last event."""
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


DECLARED_EPISODE_PREFIX = "declared:"


def declared_trigger(facts: ShipmentFacts) -> Trigger | None:
    """The merchant's declaration: made before shipping, it holds until the parcel ships;
    made after, until it arrives."""
    declared = facts.declared_delay
    if declared is None or facts.cancelled or facts.final or facts.arrived:
        return None
    if facts.shipped_at is None:
        kind = AnomalyType.PREPARATION_DELAY
    elif facts.shipped_at <= declared.declared_at:
        kind = AnomalyType.DELIVERY_LATE
    else:
        return None
    return Trigger(
        kind,
        f"{DECLARED_EPISODE_PREFIX}{declared.declared_at.isoformat()}",
        at=declared.declared_at,
        declared_delay=declared,
    )


def triggers_at(
    facts: ShipmentFacts, policy: DetectionPolicy, now: datetime
) -> dict[AnomalyType, Trigger]:
    """Every type the merchant's policy enables that holds at `now`."""
    found: dict[AnomalyType, Trigger] = {}
    for trigger in event_triggers(facts):
        found.setdefault(trigger.anomaly_type, trigger)
    for deadline in deadlines(facts, policy):
        if deadline.due_at <= now and deadline.anomaly_type not in found:
            found[deadline.anomaly_type] = deadline_trigger(facts, deadline)
    declared = declared_trigger(facts)
    if declared is not None:
        found.setdefault(declared.anomaly_type, declared)
    return {kind: trigger for kind, trigger in found.items() if policy.enabled(kind)}
