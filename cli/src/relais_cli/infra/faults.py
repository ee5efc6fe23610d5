"""Real faults on the local infrastructure, for the fault-kind tests and `relais chaos`.

Each fault acts only on what `relais infra up` started for the given settings (never
on a server it does not own) and each has its repair, `up` of the same component,
which is idempotent:
- PostgreSQL: kill -9 of the postmaster and of every backend at once: the server
  vanishes as in a host crash; the next start runs crash recovery;
- Kafka: kill -9 of the broker's JVM (no controlled shutdown);
- SMTP: the catcher stopped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from relais_cli.infra import kafka, postgres, process, smtp
from relais_cli.infra.base import InfraError, Outcome, Reporter, SilentReporter
from relais_cli.infra.settings import InfraSettings


def kafka_pid(settings: InfraSettings) -> int | None:
    markers = (kafka.MAIN_CLASS, str(settings.paths.kafka_properties))
    return process.owned_pid(settings.paths.pid(kafka.NAME), markers=markers)


def postgres_pid(settings: InfraSettings) -> int | None:
    layout = postgres.cluster_layout(settings)
    return process.owned_pid(layout.data / "postmaster.pid", markers=("postgres", str(layout.data)))


async def kill_kafka(settings: InfraSettings) -> int:
    """kill -9 of the broker; returns its pid once it is gone."""
    pid = kafka_pid(settings)
    if pid is None:
        raise InfraError("the Kafka broker was not started by relais infra up: not killing it")
    await kill_and_wait([pid])
    return pid


async def kill_postgres(settings: InfraSettings) -> int:
    """kill -9 of the postmaster and of every backend; returns the postmaster's pid."""
    pid = postgres_pid(settings)
    if pid is None:
        raise InfraError("PostgreSQL was not started by relais infra up: not killing it")
    await kill_and_wait([pid, *children(pid)])
    return pid


async def stop_smtp(settings: InfraSettings) -> Outcome:
    return await smtp.down(settings, reporter=SilentReporter())


async def restart_postgres(settings: InfraSettings, reporter: Reporter | None = None) -> Outcome:
    return await postgres.up(settings, reporter=reporter or SilentReporter())


async def restart_kafka(settings: InfraSettings, reporter: Reporter | None = None) -> Outcome:
    return await kafka.up(settings, reporter=reporter or SilentReporter())


async def restart_smtp(settings: InfraSettings, reporter: Reporter | None = None) -> Outcome:
    return await smtp.up(settings, reporter=reporter or SilentReporter())


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (PostgreSQL's backends and workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


async def kill_and_wait(pids: list[int], *, timeout_s: float = 15.0) -> None:
    """SIGKILL every pid, then wait until none runs (a port is free once they are gone)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(process.is_running(pid) for pid in pids):
            return
        await asyncio.sleep(0.05)
    raise InfraError(f"processes {pids} still run {timeout_s} s after SIGKILL")
