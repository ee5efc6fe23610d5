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
import random
from dataclasses import dataclass, field

from relais_runtime.logging import get_logger

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
        ceiling = min(self.max_s, self.initial_s * 2 ** (self.failures - 1))
        return random.uniform(ceiling / 2, ceiling)

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
