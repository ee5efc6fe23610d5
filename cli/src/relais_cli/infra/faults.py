"""Real faults on the local infrastructure, for the fault-kind tests and `relais chaos`.

Each fault acts on what `relais infra up` started (never on a server it does not own)
and each has its recovery: `up` of the same component, which is idempotent.
- PostgreSQL: an immediate stop (`pg_ctl stop -m immediate`: every backend killed at
  once, no checkpoint, crash recovery at the next start), as a host crash would;
- Kafka: SIGKILL of the broker's JVM (no controlled shutdown);
- SMTP: SIGKILL of the mail catcher.
"""

from __future__ import annotations

import asyncio
import os
import signal

from relais_cli.infra import kafka, postgres, smtp
from relais_cli.infra.base import InfraError, Outcome, Reporter, SilentReporter
from relais_cli.infra.daemon import running_pid
from relais_cli.infra.settings import InfraSettings


async def crash_postgres(settings: InfraSettings) -> None:
    layout = postgres.cluster_layout(settings)
    if postgres._our_pid(settings, layout) is None:
        raise InfraError("PostgreSQL was not started by relais infra up: not crashing it")
    bindir = postgres._bindir_for(layout)
    argv = [str(bindir / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(layout.data)]
    command = postgres._as_cluster_user(argv, layout)
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=layout.home,
    )
    if await process.wait() != 0:
        raise InfraError("pg_ctl stop -m immediate failed")


async def kill_kafka(settings: InfraSettings) -> None:
    _kill(running_pid(kafka._daemon(settings)), what="the Kafka broker")


async def kill_smtp(settings: InfraSettings) -> None:
    _kill(running_pid(smtp._daemon(settings)), what="the SMTP catcher")


def _kill(pid: int | None, *, what: str) -> None:
    if pid is None:
        raise InfraError(f"{what} was not started by relais infra up: not killing it")
    os.kill(pid, signal.SIGKILL)


async def restart_postgres(settings: InfraSettings, reporter: Reporter | None = None) -> Outcome:
    return await postgres.up(settings, reporter=reporter or SilentReporter())


async def restart_kafka(settings: InfraSettings, reporter: Reporter | None = None) -> Outcome:
    return await kafka.up(settings, reporter=reporter or SilentReporter())


async def restart_smtp(settings: InfraSettings, reporter: Reporter | None = None) -> Outcome:
    return await smtp.up(settings, reporter=reporter or SilentReporter())
