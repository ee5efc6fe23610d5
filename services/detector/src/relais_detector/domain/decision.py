"""A decision: the events one evaluation publishes, the records it changes, the milestones
announced so far and the whole timer set the shipment needs.

Every event id is derived (relais_contracts.ids) from what it is about, so building the
same decision twice produces the same events, which the outbox and consumers drop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from relais_contracts.catalogue import (
    ANOMALY_TYPES,
    AnomalyType,
    EscalationReason,
    Milestone,
    ResolutionReason,
    Severity,
)
from relais_contracts.ids import anomaly_id, derived_id, milestone_id
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyEvent,
    AnomalyResolved,
    Evidence,
    ShipmentMilestoneReached,
)
from relais_detector.domain.facts import ShipmentFacts
from relais_detector.domain.memory import AnomalyRecord, Memory
from relais_detector.domain.timers import Timer
from relais_detector.domain.triggers import Trigger


@dataclass(frozen=True)
class Decision:
    events: tuple[AnomalyEvent, ...]
    records: tuple[AnomalyRecord, ...]
    """Records opened or changed (escalated, resolved, new episode)."""
    milestones: frozenset[Milestone]
    """Every milestone announced so far, new ones included."""
    timers: tuple[Timer, ...]
    """The whole set of timers the shipment needs now, each due strictly after `now`."""


class DecisionBuilder:
    """Accumulates one evaluation's events and record changes: each change of a record
    comes with the one event that announces it."""

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
                    declared_delay=trigger.declared_delay,
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
        """A milestone is announced once per shipment."""
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
