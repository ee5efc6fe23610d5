"""Every background loop of a service runs under one supervisor. A loop never dies silently.

Rules:
- a loop is a coroutine function taking the service's stop event; it runs until that
  event is set. Returning early, or raising anything, is a crash: it is logged with the
  loop's name and the exception type (never its message: it may hold personal data),
  `relais_loop_restarts_total` is incremented, and the loop is started again after a
  capped exponential backoff with jitter (reset once a run has lasted a minute);
- a loop says it is making progress with `beat()` (a context variable: loops need no
  extra argument). A loop that declares a heartbeat and has not beaten for longer than
  it is stale; a crashed loop waiting for its restart is dead. Either makes `/ready`
  answer 503 naming the loop;
- work that waits on the infrastructure marks itself `waiting(...)` (consumers paused
  on an outage use it): `/ready` is 503 while anything waits, and turns 200 again by
  itself when the work resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from relais_runtime.failures import backoff_delay
from relais_runtime.logging import get_logger
from relais_runtime.metrics import LOOP_RESTARTS, LOOP_UP

log = get_logger(__name__)

LoopBody = Callable[[asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class Loop:
    name: str
    body: LoopBody
    heartbeat_s: float | None = None
    """Longest quiet time between two `beat()` calls before the loop counts as stalled."""


@dataclass
class LoopState:
    name: str
    heartbeat_s: float | None
    started: bool = False
    running: bool = False
    restarts: int = 0
    last_beat: float = field(default_factory=time.monotonic)
    last_error: str | None = None

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def problem(self, now: float) -> str | None:
        if not self.started:
            return None
        if not self.running:
            return f"dead ({self.last_error or 'returned'}), restart pending"
        if self.heartbeat_s is not None and now - self.last_beat > self.heartbeat_s:
            return f"no progress for {now - self.last_beat:.0f} s"
        return None


_current: contextvars.ContextVar[LoopState | None] = contextvars.ContextVar(
    "relais_loop", default=None
)


def beat() -> None:
    """Record progress of the loop this code runs in (a no-op outside a supervised loop)."""
    state = _current.get()
    if state is not None:
        state.beat()


@dataclass(frozen=True)
class RestartBackoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    healthy_after_s: float = 60.0

    def delay(self, failures: int) -> float:
        return backoff_delay(failures, initial_s=self.initial_s, max_s=self.max_s)


class Supervisor:
    """Runs loops, restarts them, and answers whether all of them are well."""

    def __init__(self, *, service: str, backoff: RestartBackoff | None = None) -> None:
        self._service = service
        self._backoff = backoff or RestartBackoff()
        self._states: dict[str, LoopState] = {}
        self._waiting: dict[str, str] = {}

    def start(self, loop: Loop, stop: asyncio.Event) -> asyncio.Task[None]:
        if loop.name in self._states:
            raise ValueError(f"loop {loop.name!r} is already supervised")
        state = LoopState(name=loop.name, heartbeat_s=loop.heartbeat_s)
        self._states[loop.name] = state
        context = contextvars.copy_context()
        context.run(_current.set, state)
        return asyncio.create_task(self._run(loop, state, stop), name=loop.name, context=context)

    async def _run(self, loop: Loop, state: LoopState, stop: asyncio.Event) -> None:
        failures = 0
        LOOP_UP.labels(service=self._service, loop=loop.name).set(1)
        while not stop.is_set():
            state.started = state.running = True
            state.beat()
            began = time.monotonic()
            try:
                await loop.body(stop)
                if stop.is_set():
                    break
                state.last_error = "returned before stop"
                log.error("background loop returned early", loop=loop.name)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                state.last_error = type(error).__name__
                log.error("background loop crashed", loop=loop.name, error=type(error).__name__)
            state.running = False
            state.restarts += 1
            LOOP_UP.labels(service=self._service, loop=loop.name).set(0)
            LOOP_RESTARTS.labels(service=self._service, loop=loop.name).inc()
            healthy = time.monotonic() - began >= self._backoff.healthy_after_s
            failures = 1 if healthy else failures + 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._backoff.delay(failures))
            LOOP_UP.labels(service=self._service, loop=loop.name).set(1)
        state.running = False

    def set_waiting(self, name: str, reason: str) -> None:
        """Mark `name` as waiting on the infrastructure (`/ready` is 503 until cleared)."""
        self._waiting[name] = reason

    def clear_waiting(self, name: str) -> None:
        self._waiting.pop(name, None)

    @contextlib.contextmanager
    def waiting(self, name: str, reason: str) -> Iterator[None]:
        """Mark `name` as waiting on the infrastructure for the duration of the block."""
        self.set_waiting(name, reason)
        try:
            yield
        finally:
            self.clear_waiting(name)

    def problems(self) -> dict[str, str]:
        """Every loop that is dead or stalled and everything waiting, with why."""
        now = time.monotonic()
        found = {
            name: problem
            for name, state in self._states.items()
            if (problem := state.problem(now)) is not None
        }
        found.update({name: f"waiting: {reason}" for name, reason in self._waiting.items()})
        return found

    def states(self) -> dict[str, LoopState]:
        return dict(self._states)

    async def is_ready(self) -> bool:
        return not self.problems()
