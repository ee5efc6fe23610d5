"""The event-driven anomaly types: what the last carrier event says holds now, one rule
per type.

A rule reads the current status, substatus and incident reason; it names the type's
episode (the fact the anomaly is about) so that the same carrier event read twice never
opens the type twice. A cancelled shipment has no event-driven anomaly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

from relais_contracts.catalogue import AnomalyType
from relais_contracts.tracking import Incident, IncidentReason, Substatus, TrackingStatus
from relais_detector.domain.facts import ShipmentFacts

A = AnomalyType
S = Substatus
R = IncidentReason

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
DAMAGE_SUBSTATUSES: Final = frozenset({S.DAMAGED, S.DELIVERED_DAMAGED})
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
class Signal:
    """An anomaly type the last carrier event says holds, for this episode."""

    anomaly_type: AnomalyType
    episode: str
    incident: Incident | None = None
    """The incident the evidence shows when it is not the shipment's own."""
    estimated_delivery_day: date | None = None


def _reason(facts: ShipmentFacts) -> IncidentReason | None:
    return facts.incident.reason if facts.incident else None


def failed_attempt(facts: ShipmentFacts) -> Signal | None:
    """Each attempt number is its own episode."""
    if facts.status is not TrackingStatus.FAILED_ATTEMPT:
        return None
    return Signal(A.FAILED_ATTEMPT, f"attempt:{max(facts.failed_attempts, 1)}")


def address_problem(facts: ShipmentFacts) -> Signal | None:
    if facts.substatus in ADDRESS_SUBSTATUSES or _reason(facts) in ADDRESS_REASONS:
        return Signal(A.ADDRESS_PROBLEM, "address")
    return None


def returned_to_sender(facts: ShipmentFacts) -> Signal | None:
    """A return after a pickup hold expired shows the missed pickup as its incident."""
    if facts.substatus not in RETURN_SUBSTATUSES:
        return None
    incident = facts.incident
    if incident is None and facts.substatus is S.PICKUP_HOLD_EXPIRED:
        incident = Incident.of(R.RECIPIENT_PICKUP_MISSED)
    return Signal(A.RETURNED_TO_SENDER, "return", incident)


def damaged(facts: ShipmentFacts) -> Signal | None:
    if facts.substatus in DAMAGE_SUBSTATUSES or _reason(facts) is R.CARRIER_DAMAGED_PARCEL:
        return Signal(A.DAMAGED, "damaged")
    return None


def refused(facts: ShipmentFacts) -> Signal | None:
    if facts.substatus is S.REFUSED_BY_RECIPIENT or _reason(facts) is R.RECIPIENT_REFUSED:
        return Signal(A.REFUSED, "refused")
    return None


def pickup_ready(facts: ShipmentFacts) -> Signal | None:
    if facts.status is TrackingStatus.AVAILABLE_FOR_PICKUP:
        return Signal(A.PICKUP_READY, "pickup")
    return None


def delivered_to_third_party(facts: ShipmentFacts) -> Signal | None:
    if facts.substatus in THIRD_PARTY_SUBSTATUSES:
        return Signal(A.DELIVERED_TO_THIRD_PARTY, "third-party")
    return None


def held_at_customs(facts: ShipmentFacts) -> Signal | None:
    """Customs holds it: said by the substatus, or by an exception with a customs reason."""
    if facts.substatus is S.HELD_AT_CUSTOMS or (
        facts.status is TrackingStatus.EXCEPTION and _reason(facts) in CUSTOMS_REASONS
    ):
        return Signal(A.HELD_AT_CUSTOMS, "customs")
    return None


def lost(facts: ShipmentFacts) -> Signal | None:
    if facts.substatus is S.LOST or facts.status is TrackingStatus.EXPIRED:
        return Signal(A.LOST, "lost")
    return None


def estimate_past_promise(facts: ShipmentFacts) -> Signal | None:
    """The carrier's estimate already misses the promised day: late before the deadline."""
    promise, estimate = facts.promised_delivery_by, facts.estimated_delivery_day
    if promise is None or estimate is None or estimate <= promise or facts.arrived or facts.final:
        return None
    return Signal(A.DELIVERY_LATE, f"promise:{promise}", estimated_delivery_day=estimate)


EVENT_RULES: Final[tuple[Callable[[ShipmentFacts], Signal | None], ...]] = (
    failed_attempt,
    address_problem,
    returned_to_sender,
    damaged,
    refused,
    pickup_ready,
    delivered_to_third_party,
    held_at_customs,
    lost,
    estimate_past_promise,
)
"""In this order: a type's first signal wins, and the anomalies open in this order."""


def carrier_signals(facts: ShipmentFacts) -> list[Signal]:
    """Every type the last carrier event says holds now (none once cancelled)."""
    if facts.cancelled:
        return []
    return [signal for rule in EVENT_RULES if (signal := rule(facts)) is not None]
