"""The detector's catalogue: anomaly types, severities and the customer-facing milestones.

Rules:
- an anomaly is opened at most once per (shipment, type, occurrence): its id is
  `ids.anomaly_id(...)`, so a redelivered input can only re-create the same id;
  `occurrence` grows only when the same type comes back after the previous one was
  resolved (a second failed attempt on another day);
- `pickup_ready` is an anomaly of severity info, not a milestone: the customer has
  to act and the chat offers choices (change the pickup point, home redelivery);
  `pickup_hold_expiring` follows when its deadline approaches without a pickup;
- milestones (shipped, out_for_delivery, delivered) are not problems: they only
  reach the customer (tracking link, delivery day, satisfaction survey);
- anomalies and milestones share the anomalies topic so that, for one shipment,
  the notifier and the chat see them in the order the detector decided them
  (never "your parcel is late" after "your parcel was delivered").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Severity(StrEnum):
    INFO = "info"
    """Worth telling the customer; nothing is wrong yet."""
    WARNING = "warning"
    """Something is wrong; the customer may have to act."""
    CRITICAL = "critical"
    """The parcel will not arrive as promised without an action (lost, returned...)."""


class Detection(StrEnum):
    EVENT = "event"
    """A carrier event says so."""
    DEADLINE = "deadline"
    """Something expected did not happen by a deadline (a durable timer fired)."""
    EVENT_OR_DEADLINE = "event_or_deadline"


class AnomalyType(StrEnum):
    PREPARATION_DELAY = "preparation_delay"
    DELIVERY_LATE = "delivery_late"
    STALLED = "stalled"
    LOST = "lost"
    FAILED_ATTEMPT = "failed_attempt"
    ADDRESS_PROBLEM = "address_problem"
    RETURNED_TO_SENDER = "returned_to_sender"
    DAMAGED = "damaged"
    REFUSED = "refused"
    PICKUP_READY = "pickup_ready"
    PICKUP_HOLD_EXPIRING = "pickup_hold_expiring"
    DELIVERED_TO_THIRD_PARTY = "delivered_to_third_party"
    HELD_AT_CUSTOMS = "held_at_customs"


@dataclass(frozen=True)
class AnomalyTypeInfo:
    description: str
    detection: Detection
    default_severity: Severity


ANOMALY_TYPES: Final[dict[AnomalyType, AnomalyTypeInfo]] = {
    AnomalyType.PREPARATION_DELAY: AnomalyTypeInfo(
        "Not shipped by the promised ship-by time.", Detection.DEADLINE, Severity.WARNING
    ),
    AnomalyType.DELIVERY_LATE: AnomalyTypeInfo(
        "The promised delivery date passed without delivery, or the carrier's estimate "
        "moved past the promise.",
        Detection.EVENT_OR_DEADLINE,
        Severity.WARNING,
    ),
    AnomalyType.STALLED: AnomalyTypeInfo(
        "No carrier scan for N hours while in transit.", Detection.DEADLINE, Severity.WARNING
    ),
    AnomalyType.LOST: AnomalyTypeInfo(
        "The carrier says it is lost, or it stalled far beyond N hours.",
        Detection.EVENT_OR_DEADLINE,
        Severity.CRITICAL,
    ),
    AnomalyType.FAILED_ATTEMPT: AnomalyTypeInfo(
        "A delivery attempt failed (recipient absent, business closed, no access).",
        Detection.EVENT,
        Severity.WARNING,
    ),
    AnomalyType.ADDRESS_PROBLEM: AnomalyTypeInfo(
        "Incorrect or incomplete address, or the customer moved.",
        Detection.EVENT,
        Severity.CRITICAL,
    ),
    AnomalyType.RETURNED_TO_SENDER: AnomalyTypeInfo(
        "Returning or returned to the merchant; the incident says why (address not "
        "found, pickup hold expired, damaged, sender's request).",
        Detection.EVENT,
        Severity.CRITICAL,
    ),
    AnomalyType.DAMAGED: AnomalyTypeInfo(
        "Damaged on its way or delivered damaged.", Detection.EVENT, Severity.CRITICAL
    ),
    AnomalyType.REFUSED: AnomalyTypeInfo(
        "The recipient refused the parcel.", Detection.EVENT, Severity.WARNING
    ),
    AnomalyType.PICKUP_READY: AnomalyTypeInfo(
        "Waiting at a pickup point, locker or depot.", Detection.EVENT, Severity.INFO
    ),
    AnomalyType.PICKUP_HOLD_EXPIRING: AnomalyTypeInfo(
        "The pickup hold deadline approaches without a pickup.",
        Detection.DEADLINE,
        Severity.WARNING,
    ),
    AnomalyType.DELIVERED_TO_THIRD_PARTY: AnomalyTypeInfo(
        "Delivered to a neighbour, reception, safe place or another third party.",
        Detection.EVENT,
        Severity.INFO,
    ),
    AnomalyType.HELD_AT_CUSTOMS: AnomalyTypeInfo(
        "Held by customs (clearance delay, documents, duties, inspection).",
        Detection.EVENT,
        Severity.WARNING,
    ),
}


class Milestone(StrEnum):
    SHIPPED = "shipped"
    """Handed to the carrier: the message carries the branded tracking link."""
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    """Delivered or collected: the message carries the satisfaction survey link."""


class ResolutionReason(StrEnum):
    """Why an anomaly is closed."""

    FACTS_CHANGED = "facts_changed"
    """The carrier's facts cleared it (delivered, picked up, moving again)."""
    ACTION_COMPLETED = "action_completed"
    """The action the customer chose (or the automatic one) completed."""
    CUSTOMER_CONFIRMED = "customer_confirmed"
    """The customer said all is well (received it after all, happy to wait)."""
    SUPERSEDED = "superseded"
    """Replaced by a graver anomaly of the same shipment (stalled became lost)."""
    ORDER_CANCELLED = "order_cancelled"
    EXPIRED = "expired"
    """Left open past the merchant's maximum age; closed without an outcome."""
    MANUAL = "manual"
    """Closed by a human (merchant back office)."""


class EscalationReason(StrEnum):
    UNRESOLVED_TIMEOUT = "unresolved_timeout"
    """Still open after the merchant's escalation delay."""
    DEADLINE_APPROACHING = "deadline_approaching"
    """A deadline tied to the anomaly is near (pickup hold, promise)."""
    ACTION_FAILED = "action_failed"
    """The chosen action failed for good; a human has to take over."""
    SEVERITY_INCREASED = "severity_increased"
    """New facts made it graver without changing its type."""
