"""Stopping and reporting a component that `up` runs as one background process.

Rules:
- the process is ours only while its pid file, or failing that /proc, names a live process
  whose command line has every marker; `down` stops nothing else;
- something else answering on the port is someone else's: reported, never stopped;
- stopping is SIGTERM, the component's grace period, then SIGKILL; the pid file goes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from relais_cli.infra import process
from relais_cli.infra.base import Action, ComponentStatus, Outcome, Reporter, timed_outcome
from relais_cli.infra.settings import LOOPBACK


@dataclass(frozen=True)
class Daemon:
    """How to recognise, reach and stop one component's background process."""

    component: str
    pid_file: Path
    log_file: Path
    markers: tuple[str, ...]
    port: int
    stop_grace_s: float

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def outcome(daemon: Daemon, *, action: Action, started: float, detail: str = "") -> Outcome:
    return timed_outcome(
        component=daemon.component,
        action=action,
        address=daemon.address,
        started=started,
        detail=detail,
    )


def running_pid(daemon: Daemon) -> int | None:
    """Our process, by its pid file or by its command line; the pid file is not rewritten."""
    return process.owned_pid(daemon.pid_file, markers=daemon.markers) or process.find_pid(
        markers=daemon.markers
    )


async def stop(daemon: Daemon, *, reporter: Reporter) -> Outcome:
    """Stop the process if `up` started it; otherwise say whether something else listens."""
    started = time.monotonic()
    pid = process.adopt_pid(daemon.pid_file, markers=daemon.markers)
    if pid is None:
        process.remove_pid(daemon.pid_file)
        answers = await process.port_open(LOOPBACK, daemon.port)
        action = Action.NOT_OURS if answers else Action.NOT_RUNNING
        return outcome(daemon, action=action, started=started)
    reporter.step(daemon.component, f"stopping pid {pid}")
    await process.terminate(pid, markers=daemon.markers, grace_s=daemon.stop_grace_s)
    process.remove_pid(daemon.pid_file)
    return outcome(daemon, action=Action.STOPPED, started=started, detail=f"pid {pid}")


def status_row(daemon: Daemon, *, pid: int | None, answers: bool, detail: str) -> ComponentStatus:
    """The status of a component whose process is `pid` (ours) and which `answers` or not.

    The log is shown unless the server that answers is someone else's.
    """
    return ComponentStatus(
        component=daemon.component,
        up=answers,
        address=daemon.address,
        owner="relais" if pid is not None else ("external" if answers else "-"),
        log=str(daemon.log_file) if pid is not None or not answers else "(not ours)",
        pid=pid,
        detail=detail,
    )
