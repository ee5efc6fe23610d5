"""Held carrier events expire: an event that matched no order is kept `held_event_ttl_s`
(TrackerSettings, default 7 days) after it was received, then deleted.

Rules:
- a pass deletes at most `batch` events received before now - ttl, oldest first, in one
  short transaction; a full batch runs the next pass at once, otherwise the loop waits
  `idle_s`;
- each deleted event counts in relais_tracking_events_total{outcome="expired"}; each
  batch logs one line: how many, by carrier, and the oldest `received_at`; never a
  tracking number, a merchant or a description (personal data);
- an event an order is taking while it expires is either taken or expired, never both
  (row locks, SKIP LOCKED: a pass never waits on an order's transaction);
- passes follow relais_runtime.passes (beat; a transient failure backs off; anything
  else goes to the supervisor, which restarts the loop).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from relais_runtime.logging import get_logger
from relais_runtime.metrics import TRACKING_EVENTS
from relais_runtime.passes import run_passes
from relais_tracker import repository
from relais_tracker.service.history import EventOutcome

log = get_logger(__name__)

LOOP = "held-events-expiry"


@dataclass(frozen=True)
class HeldEventExpiry:
    pool: asyncpg.Pool
    ttl: timedelta
    batch: int
    now: Callable[[], datetime]
    idle_s: float = 60.0

    async def expire_due(self) -> int:
        """Delete one batch of expired held events; returns how many."""
        async with self.pool.acquire() as connection, connection.transaction():
            expired = await repository.delete_expired_pending_events(
                connection, received_before=self.now() - self.ttl, limit=self.batch
            )
        if expired:
            TRACKING_EVENTS.labels(outcome=EventOutcome.EXPIRED).inc(len(expired))
            log.info(
                "held carrier events expired",
                count=len(expired),
                by_carrier=dict(sorted(Counter(carrier for carrier, _ in expired).items())),
                oldest_received_at=min(received for _, received in expired).isoformat(),
                held_for_s=int(self.ttl.total_seconds()),
            )
        return len(expired)

    async def run(self, stop: asyncio.Event) -> None:
        async def one_pass() -> bool:
            return await self.expire_due() >= self.batch

        await run_passes(loop=LOOP, stop=stop, one_pass=one_pass, idle_s=self.idle_s)
