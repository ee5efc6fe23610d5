"""The polling schedule (relais_tracker.domain.polling): which pace, when due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from relais_contracts.tracking import TrackingStatus
from relais_tracker.domain.polling import (
    PollPace,
    PollSchedule,
    is_due,
    poll_interval,
    poll_pace,
    promise_day,
)

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
SCHEDULE = PollSchedule(
    regular=timedelta(hours=1),
    out_for_delivery=timedelta(minutes=15),
    promise_near=timedelta(minutes=30),
    promise_window_days=1,
)


def pace(
    status: TrackingStatus = TrackingStatus.IN_TRANSIT,
    *,
    promised_by: date | None = None,
    estimated: date | None = None,
    now: datetime = NOW,
    schedule: PollSchedule = SCHEDULE,
) -> PollPace:
    return poll_pace(schedule, status=status, promised_by=promised_by, estimated=estimated, now=now)


def test_out_for_delivery_is_polled_fastest_whatever_the_promise() -> None:
    assert pace(TrackingStatus.OUT_FOR_DELIVERY) is PollPace.OUT_FOR_DELIVERY
    far = TODAY + timedelta(days=20)
    assert pace(TrackingStatus.OUT_FOR_DELIVERY, promised_by=far) is PollPace.OUT_FOR_DELIVERY
    assert poll_interval(
        SCHEDULE,
        status=TrackingStatus.OUT_FOR_DELIVERY,
        promised_by=None,
        estimated=None,
        now=NOW,
    ) == timedelta(minutes=15)


@pytest.mark.parametrize(
    ("offset_days", "expected"),
    [
        (-2, PollPace.REGULAR),  # promise long passed: back to the regular pace
        (-1, PollPace.PROMISE_NEAR),  # late since yesterday
        (0, PollPace.PROMISE_NEAR),
        (1, PollPace.PROMISE_NEAR),
        (2, PollPace.REGULAR),
    ],
)
def test_a_promise_within_the_window_is_polled_more_often(
    offset_days: int, expected: PollPace
) -> None:
    day = TODAY + timedelta(days=offset_days)
    assert pace(promised_by=day) is expected
    assert pace(estimated=day) is expected, "the carrier's estimate counts the same"


def test_the_earlier_of_promise_and_estimate_is_the_day_expected() -> None:
    late_estimate = TODAY + timedelta(days=5)
    assert promise_day(TODAY, late_estimate) == TODAY
    assert promise_day(None, late_estimate) == late_estimate
    assert promise_day(None, None) is None
    assert pace(promised_by=TODAY, estimated=late_estimate) is PollPace.PROMISE_NEAR
    assert pace(promised_by=late_estimate, estimated=TODAY) is PollPace.PROMISE_NEAR


def test_no_promise_and_no_event_is_the_regular_pace() -> None:
    for status in (TrackingStatus.PENDING, TrackingStatus.IN_TRANSIT, TrackingStatus.EXCEPTION):
        assert pace(status) is PollPace.REGULAR


def test_today_is_the_utc_day() -> None:
    # 00:30 in Paris on the 11th is still the 10th in UTC: a promise for the 12th is
    # two days away, not one.
    paris_after_midnight = datetime(2026, 3, 11, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert pace(promised_by=date(2026, 3, 12), now=paris_after_midnight) is PollPace.REGULAR


def test_faster_paces_are_never_slower_than_the_regular_one() -> None:
    quick = PollSchedule(
        regular=timedelta(seconds=1),
        out_for_delivery=timedelta(minutes=15),
        promise_near=timedelta(minutes=30),
    )
    assert {quick.every(p) for p in PollPace} == {timedelta(seconds=1)}
    assert quick.shortest == timedelta(seconds=1)
    assert SCHEDULE.shortest == timedelta(minutes=15)


def test_a_schedule_refuses_intervals_that_are_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PollSchedule(regular=timedelta(0), out_for_delivery=timedelta(1), promise_near=timedelta(1))
    with pytest.raises(ValueError, match="promise_window_days"):
        PollSchedule(
            regular=timedelta(hours=1),
            out_for_delivery=timedelta(hours=1),
            promise_near=timedelta(hours=1),
            promise_window_days=-1,
        )


def due(
    *,
    status: TrackingStatus = TrackingStatus.IN_TRANSIT,
    final: bool = False,
    promised_by: date | None = None,
    polled_ago: timedelta | None,
) -> bool:
    return is_due(
        SCHEDULE,
        status=status,
        final=final,
        promised_by=promised_by,
        estimated=None,
        polled_at=None if polled_ago is None else NOW - polled_ago,
        now=NOW,
    )


def test_when_a_shipment_is_due() -> None:
    assert due(polled_ago=None), "never polled: at once"
    assert not due(final=True, polled_ago=None), "final: never"
    assert not due(final=True, polled_ago=timedelta(days=30))
    assert not due(polled_ago=timedelta(minutes=59))
    assert due(polled_ago=timedelta(hours=1)), "the interval has passed exactly"
    out = TrackingStatus.OUT_FOR_DELIVERY
    assert not due(status=out, polled_ago=timedelta(minutes=14))
    assert due(status=out, polled_ago=timedelta(minutes=15))
    assert due(promised_by=TODAY, polled_ago=timedelta(minutes=30))
    assert not due(promised_by=TODAY, polled_ago=timedelta(minutes=29))


def test_the_plan_gives_the_query_the_same_rules() -> None:
    plan = SCHEDULE.plan(NOW)
    assert plan.now == NOW
    assert plan.out_for_delivery_statuses == (TrackingStatus.OUT_FOR_DELIVERY,)
    assert plan.out_for_delivery_every == timedelta(minutes=15)
    assert plan.promise_near_every == timedelta(minutes=30)
    assert plan.regular_every == timedelta(hours=1)
    assert (plan.promise_from, plan.promise_until) == (date(2026, 3, 9), date(2026, 3, 11))
    assert plan.polled_before == NOW - timedelta(minutes=15)
