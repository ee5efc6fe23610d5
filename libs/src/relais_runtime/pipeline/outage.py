"""Waiting out the infrastructure: retry one step for as long as the failure is transient."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from relais_runtime.consumer import RetryPolicy
from relais_runtime.failures import backoff_delay, is_transient
from relais_runtime.logging import get_logger
from relais_runtime.metrics import CONSUMER_PAUSED_SECONDS, HANDLER_RETRIES
from relais_runtime.supervisor import Supervisor

log = get_logger("relais_runtime.pipeline")

T = TypeVar("T")


class Stopping(Exception):
    """The service stops while work waits on the infrastructure: leave, commit nothing."""


class Outage:
    """Retries one step while the infrastructure fails; raises what is the message's fault."""

    def __init__(
        self,
        *,
        name: str,
        topic: str,
        policy: RetryPolicy,
        stop: asyncio.Event,
        supervisor: Supervisor | None,
    ) -> None:
        self._name = name
        self._topic = topic
        self._policy = policy
        self._stop = stop
        self._supervisor = supervisor

    async def until_done(self, work: Callable[[], Awaitable[T]]) -> T:
        failures = 0
        began = time.monotonic()
        try:
            while True:
                try:
                    return await work()
                except Exception as error:
                    if not is_transient(error):
                        raise
                    failures += 1
                    self._waiting(error, failures)
                    await self.sleep(failures)
        finally:
            if failures:
                self._resumed(time.monotonic() - began)

    async def sleep(self, failures: int) -> None:
        """A capped, jittered exponential pause; raises Stopping if the service stops."""
        delay = backoff_delay(
            failures, initial_s=self._policy.backoff_initial_s, max_s=self._policy.backoff_max_s
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=delay)
        if self._stop.is_set():
            raise Stopping

    def _waiting(self, error: BaseException, failures: int) -> None:
        HANDLER_RETRIES.labels(group=self._name, topic=self._topic).inc()
        if self._supervisor is not None:
            self._supervisor.set_waiting(self._name, type(error).__name__)
        if failures == 1 or failures % 10 == 0:
            log.warning(
                "infrastructure failure, consumer paused",
                group=self._name,
                error=type(error).__name__,
                attempt=failures,
            )

    def _resumed(self, paused_s: float) -> None:
        CONSUMER_PAUSED_SECONDS.labels(group=self._name, topic=self._topic).inc(paused_s)
        if self._supervisor is not None:
            self._supervisor.clear_waiting(self._name)
        log.info("consumer resumed", group=self._name, paused_s=round(paused_s, 3))
