"""The back office's access rules that need no database: roles, CSRF tokens, throttling.

Rules:
- roles are ordered viewer < agent < admin: a role allows everything a lower one does;
- a CSRF token is the HMAC-SHA256 of a fixed label keyed by the session's random id:
  tied to the session, unguessable without the cookie, and it reveals nothing of the
  id; it is compared in constant time;
- throttling counts failures per subject in a window; from the `limit`-th failure on,
  the subject is blocked for `base * 2^(failures - limit)`, at most `cap`; a window
  that started more than `window` ago and is no longer blocked starts again from zero.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from math import ceil


class Role(StrEnum):
    VIEWER = "viewer"
    AGENT = "agent"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.AGENT: 1, Role.ADMIN: 2}

CSRF_LABEL = b"relais-office-csrf-v1"


def csrf_token_for(session_id: str) -> str:
    return hmac.new(session_id.encode(), CSRF_LABEL, hashlib.sha256).hexdigest()


def csrf_matches(expected: str, given: object) -> bool:
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class ThrottlePolicy:
    limit: int
    window: timedelta
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=15)

    def block_after(self, failures: int) -> timedelta | None:
        """How long a subject with `failures` failures in the window is blocked, if at all."""
        if failures < self.limit:
            return None
        backoff: timedelta = self.base * (2 ** min(failures - self.limit, 20))
        return min(self.cap, backoff)


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    window_started_at: datetime
    last_failed_at: datetime
    blocked_until: datetime | None = None

    def retry_after(self, now: datetime) -> int | None:
        """Whole seconds until the subject may try again; None when it may now."""
        if self.blocked_until is None or self.blocked_until <= now:
            return None
        return max(1, ceil((self.blocked_until - now).total_seconds()))


def after_failure(
    state: ThrottleState | None, now: datetime, policy: ThrottlePolicy
) -> ThrottleState:
    if state is None or _window_over(state, now, policy):
        failures, started = 1, now
    else:
        failures, started = state.failures + 1, state.window_started_at
    block = policy.block_after(failures)
    return ThrottleState(
        failures=failures,
        window_started_at=started,
        last_failed_at=now,
        blocked_until=now + block if block is not None else None,
    )


def _window_over(state: ThrottleState, now: datetime, policy: ThrottlePolicy) -> bool:
    still_blocked = state.blocked_until is not None and state.blocked_until > now
    return not still_blocked and now - state.window_started_at >= policy.window


ACCOUNT_POLICY = ThrottlePolicy(limit=5, window=timedelta(minutes=15))
ADDRESS_POLICY = ThrottlePolicy(limit=20, window=timedelta(minutes=15))
