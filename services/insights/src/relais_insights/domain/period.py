"""The period a report covers: whole days, both ends included, in the merchant's zone.

Rules:
- `from` and `to` are ISO dates (YYYY-MM-DD); without them the period is the last
  `default_days` days ending today; `to` before `from`, a date in an unknown format or
  a period longer than `max_days` is a PeriodError whose message says which;
- a fact belongs to the day of its `occurred_at` in the merchant's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 30
MAX_DAYS = 366


class PeriodError(ValueError):
    """A bad period; the message is safe to show to the caller."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    time_zone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=self.zone)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def covers(self, moment: datetime) -> bool:
        return self.start <= self.day_of(moment) <= self.end

    def covers_day(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end


def _date(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise PeriodError(f"{name}: {raw!r} is not a date like 2026-03-31") from None


def parse_period(
    *,
    start: str | None,
    end: str | None,
    today: date,
    time_zone: str,
    default_days: int = DEFAULT_DAYS,
    max_days: int = MAX_DAYS,
) -> Period:
    last = _date(end, "to") if end else today
    first = _date(start, "from") if start else last - timedelta(days=default_days - 1)
    if last < first:
        raise PeriodError(f"to ({last}) is before from ({first})")
    if (last - first).days + 1 > max_days:
        raise PeriodError(f"the period is longer than {max_days} days")
    return Period(start=first, end=last, time_zone=time_zone)


def today_in(time_zone: str, now: datetime) -> date:
    """The merchant's today: the date of `now` in its time zone."""
    return now.astimezone(ZoneInfo(time_zone)).date()


def shortcut_days(raw: str | None) -> int:
    """The dashboard's `days` shortcut (7, 30, 90...): DEFAULT_DAYS when absent or odd."""
    return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= MAX_DAYS else DEFAULT_DAYS


def period_or_default(
    *,
    start: str | None,
    end: str | None,
    days: str | None,
    today: date,
    time_zone: str,
) -> tuple[Period, str | None]:
    """The dashboard's period: a bad one shows the default period with the reason,
    never an error page without figures."""
    try:
        return (
            parse_period(
                start=start,
                end=end,
                today=today,
                time_zone=time_zone,
                default_days=shortcut_days(days),
            ),
            None,
        )
    except PeriodError as problem:
        return parse_period(start=None, end=None, today=today, time_zone=time_zone), str(problem)
