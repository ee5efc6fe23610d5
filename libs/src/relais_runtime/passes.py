"""How a background loop waits after a pass the infrastructure made fail.

A background loop (outbox relay, notifier dispatcher, detector sweeper, carrier
polling, insights refresh) works in passes, under the supervisor
(relais_runtime.supervisor). Rules shared by all of them:
- a pass beats (`supervisor.beat()`), once or, when it can be long, once per item;
- one bad item of a pass is the item's fault: the loop records it as failed or set
  aside, with its reason, and goes on with the next item;
- a pass that fails transiently (`failures.is_transient`: database, broker or provider
  unreachable) ends; the loop logs a warning naming the loop and the exception type,
  then waits a capped exponential backoff with jitter (`PassBackoff`), woken early
  only by its stop event, never in a hot loop. A pass that succeeds resets it;
- anything else raised by a pass propagates: the supervisor logs it and restarts the
  loop with its own backoff, so nothing is swallowed forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from relais_runtime.db import DbConnection
from relais_runtime.failures import backoff_delay, is_transient
from relais_runtime.logging import get_logger
from relais_runtime.supervisor import beat

log = get_logger(__name__)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


@dataclass
class PassBackoff:
    """Capped exponential backoff with jitter between passes that failed transiently."""

    loop: str
    initial_s: float = 0.5
    max_s: float = 10.0
    failures: int = field(default=0, init=False)

    def next_delay(self) -> float:
        """Count one more failed pass; how long to wait before the next one."""
        self.failures += 1
        return backoff_delay(self.failures, initial_s=self.initial_s, max_s=self.max_s)

    def succeeded(self) -> None:
        self.failures = 0

    async def wait_after(self, error: BaseException, stop: asyncio.Event) -> None:
        """Log a transient failure of a pass (its type only) and wait before the next."""
        delay = self.next_delay()
        log.warning(
            "background pass failed, the infrastructure is unavailable",
            loop=self.loop,
            error=type(error).__name__,
            failures=self.failures,
            retry_in_s=round(delay, 2),
        )
        await pause(stop, delay)


ChannelName = Callable[[DbConnection], Awaitable[str]]


class Wakeup:
    """Wakes a loop on a PostgreSQL NOTIFY channel; polling stays the fallback.

    The LISTEN connection is held from the pool and checked before every pass: after a
    database restart it is dead, so it is released and a new one listens (the pass
    fails transiently while the database is still down, and backs off)."""

    def __init__(self, pool: asyncpg.Pool, channel: ChannelName) -> None:
        self._pool = pool
        self._channel = channel
        self._listener: PoolConnectionProxy | None = None
        self._name = ""
        self._event = asyncio.Event()

    async def listen(self) -> None:
        if self._alive():
            return
        await self.close()
        listener = await self._pool.acquire()
        try:
            self._name = await self._channel(listener)
            await listener.add_listener(self._name, self._notified)
        except BaseException:
            await self._pool.release(listener)
            raise
        self._listener = listener
        self._event.set()  # what was notified while nobody listened: look once now

    def _alive(self) -> bool:
        if self._listener is None:
            return False
        try:
            return not self._listener.is_closed()
        except asyncpg.InterfaceError:
            return False  # the pool took back a connection that died under us

    def _notified(self, *_: object) -> None:
        self._event.set()

    async def wait(self, stop: asyncio.Event, timeout_s: float) -> None:
        """Until a notification, `stop`, or `timeout_s`; a notification that came
        during the pass is not lost."""
        waiters = [asyncio.ensure_future(event.wait()) for event in (self._event, stop)]
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._event.clear()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        with contextlib.suppress(Exception):
            await listener.remove_listener(self._name, self._notified)
        with contextlib.suppress(Exception):
            await self._pool.release(listener)


async def run_passes(
    *,
    loop: str,
    stop: asyncio.Event,
    one_pass: Callable[[], Awaitable[bool]],
    idle_s: float,
    wakeup: Wakeup | None = None,
) -> None:
    """Run `one_pass` until `stop` under the module's rules. A pass returns True when
    more work is ready at once (a full batch); otherwise the loop waits for its wakeup
    or `idle_s`."""
    backoff = PassBackoff(loop=loop)
    try:
        while not stop.is_set():
            beat()
            try:
                if wakeup is not None:
                    await wakeup.listen()
                more = await one_pass()
            except Exception as error:
                if not is_transient(error):
                    raise
                await backoff.wait_after(error, stop)
                continue
            backoff.succeeded()
            if more:
                continue
            if wakeup is not None:
                await wakeup.wait(stop, idle_s)
            else:
                await pause(stop, idle_s)
    finally:
        if wakeup is not None:
            await wakeup.close()
