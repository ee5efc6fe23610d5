"""One carrier's call budget: its rate limit, its daily quota, and the pauses it asks for.

Rules:
- every call to a carrier, token requests included, first takes a place from its
  limiter: a leaky bucket of `calls` per `period_s` (aiolimiter) shared by every poll of
  the process;
- a daily quota, when the carrier documents one, counts calls per UTC day; once spent,
  the carrier is not called again before the next UTC midnight (DHL and FedEx reset
  their daily quotas then);
- a 429 pauses the carrier for its `Retry-After` (seconds or an HTTP date), else for a
  default pause: no call of this process goes to that carrier before the pause ends;
- a caller never waits longer than `max_wait_s` for a place: past it `RateLimited` is
  raised at once (the shipment is polled again at its next turn), so a long pause (a
  spent daily quota) never holds the polling loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

from aiolimiter import AsyncLimiter


class RateLimited(Exception):
    """The carrier cannot be called now without breaking its limits."""

    def __init__(self, carrier: str, *, wait_s: float, reason: str) -> None:
        super().__init__(f"{carrier}: {reason}, next call possible in {wait_s:.0f} s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class RateLimit:
    calls: int
    period_s: float
    daily_quota: int | None = None

    def __post_init__(self) -> None:
        if self.calls < 1 or self.period_s <= 0:
            raise ValueError("a rate limit needs at least one call per positive period")
        if self.daily_quota is not None and self.daily_quota < 1:
            raise ValueError("a daily quota must be at least 1")


def retry_after_s(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date);
    None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


class CarrierLimiter:
    """Rate limit, daily quota and pauses of one carrier (see the module's rules)."""

    def __init__(
        self,
        carrier: str,
        limit: RateLimit,
        *,
        max_wait_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.carrier = carrier
        self.limit = limit
        self._bucket = AsyncLimiter(max_rate=limit.calls, time_period=limit.period_s)
        self._max_wait_s = max_wait_s
        self._monotonic = monotonic
        self._wall = wall
        self._paused_until = 0.0
        self._day: date | None = None
        self._spent = 0

    def pause(self, seconds: float) -> None:
        """No call before `seconds` from now (a 429); an earlier pause is only extended."""
        self._paused_until = max(self._paused_until, self._monotonic() + max(0.0, seconds))

    @property
    def paused_for_s(self) -> float:
        return max(0.0, self._paused_until - self._monotonic())

    async def acquire(self) -> None:
        """Wait for a place; RateLimited when that would take longer than `max_wait_s`.
        Only a call that gets its place counts against the daily quota."""
        wait = self.paused_for_s
        if wait > self._max_wait_s:
            raise RateLimited(self.carrier, wait_s=wait, reason="paused by the carrier")
        self._check_quota()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            async with asyncio.timeout(self._max_wait_s):
                await self._bucket.acquire()
        except TimeoutError:
            raise RateLimited(
                self.carrier, wait_s=self._max_wait_s, reason="rate limit reached"
            ) from None
        self._spent += 1

    def _check_quota(self) -> None:
        quota = self.limit.daily_quota
        if quota is None:
            return
        now = self._wall().astimezone(UTC)
        if self._day != now.date():
            self._day, self._spent = now.date(), 0
        if self._spent >= quota:
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
            raise RateLimited(
                self.carrier,
                wait_s=(midnight - now).total_seconds(),
                reason=f"daily quota of {quota} calls spent",
            )
