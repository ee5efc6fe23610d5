"""A circuit breaker per merchant endpoint, on an injected time.

Rules:
- closed: every call goes through; `failure_threshold` consecutive failures open it;
- open: no call goes through (commands go to the retry tiers without calling) until
  `cool_down` has passed since it opened;
- half-open: exactly one trial call goes through; its success closes the circuit,
  its failure opens it again for another cool-down. A trial whose outcome is never
  reported (the process crashed mid-call) is given up after one cool-down, so the
  breaker cannot stay half-open forever;
- a failure is what says the endpoint is unwell: a 5xx, a timeout, a connection
  error. A 4xx is an answer, and counts as a success for the breaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    failure_threshold: int
    cool_down: timedelta
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_at: datetime | None = None
    trial_started_at: datetime | None = field(default=None)

    def allow(self, now: datetime) -> bool:
        """May a call go through now? In half-open, True once per trial."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            assert self.opened_at is not None
            if now - self.opened_at < self.cool_down:
                return False
            self.state = BreakerState.HALF_OPEN
            self.trial_started_at = now
            return True
        if self.trial_started_at is not None and now - self.trial_started_at < self.cool_down:
            return False
        self.trial_started_at = now
        return True

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.opened_at = None
        self.trial_started_at = None

    def record_failure(self, now: datetime) -> None:
        self.consecutive_failures += 1
        if (
            self.state is BreakerState.HALF_OPEN
            or self.consecutive_failures >= self.failure_threshold
        ):
            self.state = BreakerState.OPEN
            self.opened_at = now
            self.trial_started_at = None


@dataclass
class BreakerBoard:
    """One breaker per (merchant, endpoint URL); a merchant's breaker never trips another's."""

    breakers: dict[tuple[str, str], CircuitBreaker] = field(default_factory=dict)

    def for_endpoint(
        self, *, merchant_id: str, url: str, failure_threshold: int, cool_down: timedelta
    ) -> CircuitBreaker:
        key = (merchant_id, url)
        breaker = self.breakers.get(key)
        if breaker is None:
            breaker = CircuitBreaker(failure_threshold=failure_threshold, cool_down=cool_down)
            self.breakers[key] = breaker
        return breaker
