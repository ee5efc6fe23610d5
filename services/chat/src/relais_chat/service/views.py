"""Recording the tracking page's views: each view is a fact (TrackingPageViewed, a
"where is my order?" answered), published through the outbox.

Rules:
- a view is recorded in memory at once; the recorder's loop writes the views of the
  last `interval_s` together, in one transaction of the outbox (enqueue). A page view
  thus costs its one read, never a write of its own, and the outbox relay is woken
  once per batch, not once per view;
- each event keeps the moment of its view (occurred_at) and its random id: a batch
  changes when a view is published, never what it says;
- the loop writes once more when the service stops (before the outbox relay's last
  pass), so a clean stop loses nothing; a crash loses at most the views of the last
  `interval_s` (never half of one, and nothing is written twice);
- a write that fails keeps its views for the next pass; at most `max_pending` views
  wait, beyond which the oldest are dropped and logged (a long PostgreSQL outage must
  not grow the memory without bound).
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from relais_contracts.topics import conversations as conversations_topic
from relais_contracts.topics.conversations import TrackingPageViewed
from relais_runtime.failures import is_transient
from relais_runtime.logging import get_logger
from relais_runtime.outbox import enqueue
from relais_runtime.supervisor import Loop, beat

log = get_logger(__name__)


class ViewRecorder:
    def __init__(
        self, pool: asyncpg.Pool, *, interval_s: float = 0.25, max_pending: int = 10_000
    ) -> None:
        self._pool = pool
        self._interval_s = interval_s
        self._max_pending = max_pending
        self._pending: list[TrackingPageViewed] = []

    def record(self, viewed: TrackingPageViewed) -> None:
        self._pending.append(viewed)
        excess = len(self._pending) - self._max_pending
        if excess > 0:
            del self._pending[:excess]
            log.error("tracking page views dropped: too many waiting", dropped=excess)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write what waits in one transaction; returns how many views were written.
        On failure the views wait for the next flush, and the error is raised."""
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                await enqueue(connection, topic=conversations_topic.TOPIC, events=batch)
        except BaseException:
            self._pending[:0] = batch
            raise
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every `interval_s` until `stop`, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)
            await self._flush_transient_safe()
            beat()
        await self._flush_transient_safe()

    async def _flush_transient_safe(self) -> None:
        try:
            await self.flush()
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("tracking page views wait for PostgreSQL", error=type(error).__name__)

    def loop(self) -> Loop:
        return Loop("tracking-page-views", self.run, heartbeat_s=max(30.0, 50 * self._interval_s))
