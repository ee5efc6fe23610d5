"""The time-driven anomaly types: when each will hold if nothing changes.

A deadline is set by the facts alone (a promise, the last scan, a pickup hold); it is
reached when `now` passes it, and until then it is the due time of its timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from relais_contracts.catalogue import AnomalyType
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_detector.domain.facts import ShipmentFacts
from relais_detector.domain.timers import TimerKind
from relais_runtime.merchants.detection import DetectionPolicy

A = AnomalyType
S = Substatus

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


@dataclass(frozen=True)
class Deadline:
    """When a time-driven type will hold if nothing changes."""

    anomaly_type: AnomalyType
    kind: TimerKind
    due_at: datetime
    episode: str
    threshold_hours: float | None


def moving(facts: ShipmentFacts) -> bool:
    """Handed to the carrier, not over, and a next scan is expected."""
    if facts.final or facts.cancelled or facts.shipped_at is None:
        return False
    return facts.status in MOVING_STATUSES or facts.substatus in DELAY_SUBSTATUSES


def scan_reference(facts: ShipmentFacts) -> datetime | None:
    """The next scan is expected after the last carrier event, or after shipping."""
    return facts.last_event_at or facts.shipped_at


def promised_delivery_deadline(facts: ShipmentFacts, policy: DetectionPolicy) -> datetime | None:
    """End of the last promised day in the customer's time zone, plus the grace."""
    if facts.promised_delivery_by is None:
        return None
    next_day = facts.promised_delivery_by + timedelta(days=1)
    end = datetime.combine(next_day, time(0), tzinfo=ZoneInfo(facts.time_zone))
    return end + timedelta(hours=policy.delivery_late_grace_hours)


def deadlines(facts: ShipmentFacts, policy: DetectionPolicy) -> list[Deadline]:
    """Every deadline the current facts set (reached or not), in a fixed order."""
    if facts.cancelled or facts.final:
        return []
    return [
        *_ship_by(facts, policy),
        *_promised_delivery(facts, policy),
        *_next_scan(facts, policy),
        *_pickup_hold(facts, policy),
    ]


def _ship_by(facts: ShipmentFacts, policy: DetectionPolicy) -> list[Deadline]:
    if facts.promised_ship_by is None or facts.shipped_at is not None:
        return []
    grace = policy.preparation_grace_hours
    return [
        Deadline(
            A.PREPARATION_DELAY,
            TimerKind.SHIP_BY,
            facts.promised_ship_by + timedelta(hours=grace),
            f"ship-by:{facts.promised_ship_by.isoformat()}",
            grace,
        )
    ]


def _promised_delivery(facts: ShipmentFacts, policy: DetectionPolicy) -> list[Deadline]:
    promise_end = promised_delivery_deadline(facts, policy)
    if promise_end is None or facts.arrived:
        return []
    return [
        Deadline(
            A.DELIVERY_LATE,
            TimerKind.PROMISED_DELIVERY,
            promise_end,
            f"promise:{facts.promised_delivery_by}",
            policy.delivery_late_grace_hours,
        )
    ]


def _next_scan(facts: ShipmentFacts, policy: DetectionPolicy) -> list[Deadline]:
    """A moving parcel without a scan is stalled, and later lost."""
    reference = scan_reference(facts)
    if not moving(facts) or reference is None:
        return []
    stalled, lost = policy.stalled_after_hours, policy.lost_after_hours
    return [
        Deadline(
            A.STALLED,
            TimerKind.NEXT_SCAN,
            reference + timedelta(hours=stalled),
            f"since:{reference.isoformat()}",
            stalled,
        ),
        Deadline(A.LOST, TimerKind.LOST_AFTER, reference + timedelta(hours=lost), "lost", lost),
    ]


def _pickup_hold(facts: ShipmentFacts, policy: DetectionPolicy) -> list[Deadline]:
    if (
        facts.status is not TrackingStatus.AVAILABLE_FOR_PICKUP
        or facts.pickup_hold_deadline is None
    ):
        return []
    warning = policy.pickup_hold_warning_hours
    return [
        Deadline(
            A.PICKUP_HOLD_EXPIRING,
            TimerKind.PICKUP_HOLD,
            facts.pickup_hold_deadline - timedelta(hours=warning),
            f"hold:{facts.pickup_hold_deadline.isoformat()}",
            warning,
        )
    ]
