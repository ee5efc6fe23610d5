"""How hard and how often the dispatcher tries, and how long it holds a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class DispatchPolicy:
    send_attempts: int = 3
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 5.0
    rounds: int = 5
    round_delay_s: float = 60.0
    record_retry_s: float = 60.0
    """Real seconds an outcome already known (sent, failed) is retried into the database."""
    unreachable_retry: timedelta = timedelta(seconds=15)
    """While the provider cannot be reached: tried again after this, rounds untouched."""
    lease: timedelta = timedelta(minutes=5)
    contact_wait: timedelta = timedelta(minutes=10)
    batch_size: int = 50
    interval_s: float = 1.0
    concurrency: int = 32
    """Shipments whose messages are dispatched at the same time (one row at a time each)."""
