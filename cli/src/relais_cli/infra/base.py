"""What every component reports: outcomes of up/down, status rows, progress, errors."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class InfraError(Exception):
    """An expected failure; the message says what went wrong and what to do about it."""


class Action(StrEnum):
    STARTED = "started"
    RUNNING = "already running"
    EXTERNAL = "using existing"
    STOPPED = "stopped"
    NOT_OURS = "left alone"
    NOT_RUNNING = "not running"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What `up` or `down` did to one component, and how long it took."""

    component: str
    action: Action
    address: str
    seconds: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.action is not Action.FAILED


def timed_outcome(
    *, component: str, action: Action, address: str, started: float, detail: str = ""
) -> Outcome:
    """An outcome whose duration runs from `started` (time.monotonic()) to now."""
    return Outcome(
        component=component,
        action=action,
        address=address,
        seconds=time.monotonic() - started,
        detail=detail,
    )


@dataclass(frozen=True)
class ComponentStatus:
    """One row of `relais infra status`; `pid` is set only for processes `up` started."""

    component: str
    up: bool
    address: str
    owner: str
    log: str
    pid: int | None = None
    detail: str = ""


class Reporter(Protocol):
    """Progress sink.

    `step` is a line worth keeping, `waiting` replaces a component's transient progress
    text, `finished` is called once per component with its outcome.
    """

    def step(self, component: str, message: str) -> None: ...

    def waiting(self, component: str, message: str) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...


class SilentReporter:
    """Discards progress (library use, tests)."""

    def step(self, component: str, message: str) -> None:
        del component, message

    def waiting(self, component: str, message: str) -> None:
        del component, message

    def finished(self, outcome: Outcome) -> None:
        del outcome
