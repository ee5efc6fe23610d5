"""relais.anomalies.v1: anomalies opened, escalated and resolved, and milestones reached.

Rules (see relais_contracts.catalogue for the types):
- produced by the detector only, keyed by `<merchant_id>/<shipment_id>`;
- milestones share this topic with anomalies on purpose: for one shipment, consumers
  see every customer-facing decision of the detector in the order it was taken;
- `anomaly_id` = `ids.anomaly_id(merchant, shipment, type, occurrence)` and
  `milestone_id` = `ids.milestone_id(merchant, shipment, milestone)`: a detector that
  sees its input twice re-creates the same ids, and consumers drop duplicates;
- an anomaly is detected once, may be escalated (level 1, 2...), and is resolved
  once; events of one anomaly carry its `anomaly_id` and `anomaly_type`;
- `shipment` is a non-personal snapshot at decision time (order number, carrier,
  dates, pickup point, order value): enough to word a message, choose an automatic
  action or count a KPI without another lookup.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from relais_contracts.catalogue import (
    AnomalyType,
    EscalationReason,
    Milestone,
    ResolutionReason,
    Severity,
)
from relais_contracts.envelope import Contract, ShipmentEvent
from relais_contracts.registry import Service, Topic
from relais_contracts.shipment import DeclaredDelay, ShipmentContext
from relais_contracts.tracking import Incident, Substatus, TrackingStatus


class DeadlineKind(StrEnum):
    SHIP_BY = "ship_by"
    PROMISED_DELIVERY = "promised_delivery"
    NEXT_SCAN = "next_scan"
    LOST_AFTER = "lost_after"
    PICKUP_HOLD = "pickup_hold"


class MissedDeadline(Contract):
    """The deadline whose timer fired (time-driven detections)."""

    kind: DeadlineKind
    due_at: AwareDatetime
    threshold_hours: float | None = Field(
        default=None, ge=0, description="The merchant threshold that set it, if any."
    )


class Evidence(Contract):
    """Why the detector decided: the carrier events, the missed deadline, or the merchant's
    declaration that the order is late."""

    tracking_event_ids: tuple[UUID, ...] = Field(default=(), max_length=50)
    deadline: MissedDeadline | None = None
    status: TrackingStatus
    substatus: Substatus
    incident: Incident | None = Field(
        default=None,
        description="The incident that caused it; for returned_to_sender, the return reason.",
    )
    estimated_delivery_day: date | None = Field(
        default=None, description="For delivery_late: the carrier's estimate past the promise."
    )
    declared_delay: DeclaredDelay | None = Field(
        default=None,
        description="For preparation_delay and delivery_late: the merchant declared it.",
    )

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.tracking_event_ids and self.deadline is None and self.declared_delay is None:
            raise ValueError(
                "evidence needs tracking events, a missed deadline or a declared delay"
            )
        return self


class _AnomalyEvent(ShipmentEvent):
    anomaly_id: UUID
    anomaly_type: AnomalyType


class AnomalyDetected(_AnomalyEvent):
    """An anomaly is opened. `occurred_at` is when the fact (or the deadline) happened."""

    event_type: Literal["AnomalyDetected"] = "AnomalyDetected"
    schema_version: Literal[1] = 1
    occurrence: int = Field(
        default=1, ge=1, description="Counts re-openings of this type on this shipment."
    )
    severity: Severity
    evidence: Evidence
    shipment: ShipmentContext


class AnomalyEscalated(_AnomalyEvent):
    """Still open and graver, or still open for too long: a human or a stronger message."""

    event_type: Literal["AnomalyEscalated"] = "AnomalyEscalated"
    schema_version: Literal[1] = 1
    level: int = Field(ge=1, description="1 for the first escalation, then 2...")
    severity: Severity
    reason: EscalationReason
    deadline_at: AwareDatetime | None = Field(
        default=None, description="The approaching deadline, for deadline_approaching."
    )
    cause_event_id: UUID | None = Field(
        default=None,
        description="The event that escalated it (ActionFailed, a tracking event), if any.",
    )
    shipment: ShipmentContext


class AnomalyResolved(_AnomalyEvent):
    """Closed. No message or action may follow for this anomaly."""

    event_type: Literal["AnomalyResolved"] = "AnomalyResolved"
    schema_version: Literal[1] = 1
    reason: ResolutionReason
    cause_event_id: UUID | None = Field(
        default=None,
        description="The tracking event, action result, conversation event or order event "
        "that resolved it.",
    )
    action_id: UUID | None = Field(default=None, description="For action_completed.")
    superseded_by: UUID | None = Field(default=None, description="For superseded.")
    status: TrackingStatus
    substatus: Substatus


class ShipmentMilestoneReached(ShipmentEvent):
    """A step the customer is told about, not a problem."""

    event_type: Literal["ShipmentMilestoneReached"] = "ShipmentMilestoneReached"
    schema_version: Literal[1] = 1
    milestone_id: UUID
    milestone: Milestone
    tracking_event_id: UUID | None = Field(
        default=None,
        description="The carrier event that marks it (None when the merchant declared it "
        "shipped before any carrier scan).",
    )
    shipment: ShipmentContext


AnomalyEvent = AnomalyDetected | AnomalyEscalated | AnomalyResolved | ShipmentMilestoneReached

TOPIC = Topic(
    name="relais.anomalies.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<shipment_id>`",
    message_types=(AnomalyDetected, AnomalyEscalated, AnomalyResolved, ShipmentMilestoneReached),
    producers=(Service.DETECTOR,),
    consumers=(Service.NOTIFIER, Service.CHAT, Service.ACTIONS, Service.INSIGHTS),
    partitions=6,
    retention_ms=30 * 24 * 3600 * 1000,
)
