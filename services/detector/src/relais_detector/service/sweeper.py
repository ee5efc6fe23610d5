"""The timer sweeper: fires due durable timers (a background job of every instance).

Rules:
- a sweep asks the injected clock for `now` and claims the earliest due timers with
  an indexed range scan (`due_at <= now ORDER BY due_at LIMIT n FOR UPDATE SKIP
  LOCKED`): its cost depends on the timers due, never on the idle ones;
- each claimed shipment is then locked with SKIP LOCKED: a shipment a consumer (or
  another sweeper) is handling is left for the next sweep, so nothing ever waits;
- firing = evaluating the shipment's facts at `now` and storing the decision
  (Detection.reevaluate), whose timer set no longer holds the fired timers, in the
  same transaction as the outbox rows: a timer fires once, even with several
  instances, and a crash before the commit leaves it due for the next sweep (after a
  restart too);
- a shipment whose evaluation fails for its own reason (bad facts, a bug: anything
  `failures.is_transient` does not call the infrastructure's) is rolled back to its
  savepoint, logged with the exception type, counted (`outcome="failed"`) and its due
  timers are postponed by `retry_s`: one bad shipment never blocks the others;
- a transient failure (database unreachable, serialization conflict...) ends the
  sweep: its transaction is rolled back, so every timer it claimed stays due as it
  was (nothing is postponed, nothing lost); the background job logs it and backs off
  (capped, relais_runtime.passes) before the next sweep;
- the background job beats once per sweep (relais_runtime.supervisor); anything else
  it raises (not one shipment's fault) goes to the supervisor, which restarts it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg

from relais_detector import repository
from relais_detector.repository import DueTimer
from relais_detector.service.detection import Detection
from relais_runtime.db import DbConnection
from relais_runtime.failures import is_transient
from relais_runtime.logging import get_logger
from relais_runtime.metrics import TIMER_SWEEP_SECONDS, TIMERS_FIRED
from relais_runtime.passes import run_passes

log = get_logger(__name__)


class FireOutcome(StrEnum):
    """What became of a shipment's due timers in one sweep (the `outcome` label)."""

    EVALUATED = "evaluated"
    BUSY = "busy"
    """Another transaction holds the shipment: its timers stay due for the next sweep."""
    FAILED = "failed"
    """Its evaluation failed for its own reason: its timers are postponed by `retry_s`."""


class Sweeper:
    def __init__(
        self, *, pool: asyncpg.Pool, detector: Detection, batch_size: int = 200, retry_s: float = 60
    ) -> None:
        self._pool = pool
        self._detector = detector
        self._batch_size = batch_size
        self._retry = timedelta(seconds=retry_s)
        self.fired = 0
        """Timers this sweeper fired (evaluated and committed) since it was built."""

    async def sweep_once(self) -> int:
        """Fire one batch of due timers; returns how many timers were claimed."""
        started = time.perf_counter()
        now = self._detector.clock.now()
        async with self._pool.acquire() as connection, connection.transaction():
            due = await repository.list_due_timers(connection, now=now, limit=self._batch_size)
            for (merchant_id, shipment_id), timers in _by_shipment(due).items():
                outcome = await self._fire(connection, merchant_id, shipment_id)
                TIMERS_FIRED.labels(outcome=outcome).inc(len(timers))
                if outcome is FireOutcome.EVALUATED:
                    self.fired += len(timers)
        TIMER_SWEEP_SECONDS.observe(time.perf_counter() - started)
        return len(due)

    async def sweep_until_idle(self) -> int:
        """Sweep until no due timer is left (tests and catch-up after a restart)."""
        total = 0
        while (claimed := await self.sweep_once()) > 0:
            total += claimed
            if claimed < self._batch_size:
                break
        return total

    async def _fire(
        self, connection: DbConnection, merchant_id: str, shipment_id: str
    ) -> FireOutcome:
        """Evaluate one shipment in its own savepoint (see the module's rules)."""
        now = self._detector.clock.now()
        try:
            async with connection.transaction():
                evaluated = await self._detector.reevaluate(
                    connection, merchant_id=merchant_id, shipment_id=shipment_id, now=now
                )
        except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError):
            return FireOutcome.BUSY
        except Exception as error:
            if is_transient(error):
                raise
            await self._postpone(connection, merchant_id, shipment_id, now=now, error=error)
            return FireOutcome.FAILED
        return FireOutcome.EVALUATED if evaluated else FireOutcome.BUSY

    async def _postpone(
        self,
        connection: DbConnection,
        merchant_id: str,
        shipment_id: str,
        *,
        now: datetime,
        error: Exception,
    ) -> None:
        log.error(
            "timer evaluation failed, postponed",
            merchant_id=merchant_id,
            shipment_id=shipment_id,
            error=type(error).__name__,
            retry_s=self._retry.total_seconds(),
        )
        await repository.update_timer_due(
            connection,
            merchant_id=merchant_id,
            shipment_id=shipment_id,
            due_at=now + self._retry,
        )

    def runner(self, *, interval_s: float) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
        """The background job: sweep, then wait `interval_s` (real seconds) or stop; after
        a transient failure, a capped backoff instead (see the module's rules)."""

        async def one_pass() -> bool:
            return await self.sweep_once() >= self._batch_size

        async def run(stop: asyncio.Event) -> None:
            await run_passes(
                loop="detector-sweeper", stop=stop, one_pass=one_pass, idle_s=interval_s
            )

        return run


def _by_shipment(due: list[DueTimer]) -> dict[tuple[str, str], list[DueTimer]]:
    """Due timers grouped by shipment, in the order their earliest timer was claimed."""
    by_shipment: dict[tuple[str, str], list[DueTimer]] = {}
    for timer in due:
        by_shipment.setdefault((timer.merchant_id, timer.shipment_id), []).append(timer)
    return by_shipment
