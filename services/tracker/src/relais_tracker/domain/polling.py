"""When a shipment is polled again (pure: no I/O).

Rules:
- only shipments that are not final are polled (the repository's query keeps to them);
- a parcel out for delivery is polled every `out_for_delivery` (its delivery, or a
  failed attempt, is expected within hours);
- a parcel whose promise is near (the merchant's promised day or the carrier's
  estimated day, the earlier of the two, within `promise_window_days` of today, before
  or after) is polled every `promise_near`;
- any other parcel every `regular`;
- a faster interval is never longer than `regular` (a schedule made with a shorter
  `regular`, as tests do, polls everything at that pace);
- a shipment never polled is due at once; days are compared in UTC (a promise is a
  calendar day; a few hours' difference only shifts when the faster pace starts).

The repository's polling query (`repository.list_shipments_to_poll`) applies the same
rules in SQL from a `PollPlan`; `poll_interval` is their reference, unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final

from relais_contracts.tracking import TrackingStatus

OUT_FOR_DELIVERY_STATUSES: Final = frozenset({TrackingStatus.OUT_FOR_DELIVERY})
"""Statuses polled at the `out_for_delivery` pace."""


class PollPace(StrEnum):
    OUT_FOR_DELIVERY = "out_for_delivery"
    PROMISE_NEAR = "promise_near"
    REGULAR = "regular"


@dataclass(frozen=True)
class PollSchedule:
    regular: timedelta
    out_for_delivery: timedelta
    promise_near: timedelta
    promise_window_days: int = 1

    def __post_init__(self) -> None:
        if min(self.regular, self.out_for_delivery, self.promise_near) <= timedelta(0):
            raise ValueError("poll intervals must be positive")
        if self.promise_window_days < 0:
            raise ValueError("promise_window_days must not be negative")

    def every(self, pace: PollPace) -> timedelta:
        """The interval of a pace, never longer than `regular`."""
        match pace:
            case PollPace.OUT_FOR_DELIVERY:
                return min(self.out_for_delivery, self.regular)
            case PollPace.PROMISE_NEAR:
                return min(self.promise_near, self.regular)
            case PollPace.REGULAR:
                return self.regular

    @property
    def shortest(self) -> timedelta:
        return min(self.every(pace) for pace in PollPace)

    def plan(self, now: datetime) -> PollPlan:
        """What the polling query needs to pick the shipments due at `now`."""
        today = now.astimezone(UTC).date()
        window = timedelta(days=self.promise_window_days)
        return PollPlan(
            now=now,
            out_for_delivery_statuses=tuple(sorted(OUT_FOR_DELIVERY_STATUSES)),
            out_for_delivery_every=self.every(PollPace.OUT_FOR_DELIVERY),
            promise_from=today - window,
            promise_until=today + window,
            promise_near_every=self.every(PollPace.PROMISE_NEAR),
            regular_every=self.regular,
            polled_before=now - self.shortest,
        )


@dataclass(frozen=True)
class PollPlan:
    """`PollSchedule.plan(now)`: the schedule as the polling query's parameters."""

    now: datetime
    out_for_delivery_statuses: tuple[TrackingStatus, ...]
    out_for_delivery_every: timedelta
    promise_from: date
    promise_until: date
    promise_near_every: timedelta
    regular_every: timedelta
    polled_before: datetime
    """No shipment polled since then can be due (the shortest interval ago)."""


def promise_day(promised_by: date | None, estimated: date | None) -> date | None:
    """The day the parcel is expected: the earlier of the promise and the estimate."""
    days = [day for day in (promised_by, estimated) if day is not None]
    return min(days) if days else None


def poll_pace(
    schedule: PollSchedule,
    *,
    status: TrackingStatus,
    promised_by: date | None,
    estimated: date | None,
    now: datetime,
) -> PollPace:
    if status in OUT_FOR_DELIVERY_STATUSES:
        return PollPace.OUT_FOR_DELIVERY
    day = promise_day(promised_by, estimated)
    window = timedelta(days=schedule.promise_window_days)
    if day is not None and abs(day - now.astimezone(UTC).date()) <= window:
        return PollPace.PROMISE_NEAR
    return PollPace.REGULAR


def poll_interval(
    schedule: PollSchedule,
    *,
    status: TrackingStatus,
    promised_by: date | None,
    estimated: date | None,
    now: datetime,
) -> timedelta:
    """How long after its last poll a shipment in this state is due again."""
    pace = poll_pace(schedule, status=status, promised_by=promised_by, estimated=estimated, now=now)
    return schedule.every(pace)


def is_due(
    schedule: PollSchedule,
    *,
    status: TrackingStatus,
    final: bool,
    promised_by: date | None,
    estimated: date | None,
    polled_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether a shipment is to be polled at `now`."""
    if final:
        return False
    if polled_at is None:
        return True
    every = poll_interval(
        schedule, status=status, promised_by=promised_by, estimated=estimated, now=now
    )
    return polled_at + every <= now
