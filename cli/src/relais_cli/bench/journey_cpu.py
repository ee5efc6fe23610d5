"""CPU used by each service process during one rate of `relais bench journey`, and by
the whole machine (other people's work included), read from /proc.

A service at 100 % of one core cannot keep up whatever its waits: this is the first
thing to look at when a rate's latency grows with the run. On a system without /proc
the figures are absent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process (None once it is gone)."""
    fields = _stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def family_cpu_s(pid: int) -> float | None:
    """CPU seconds of a live process and of all its children, live and ended
    (PostgreSQL's backends: an ended one's time is in the parent's cutime + cstime once
    reaped, so closing a connection never makes the total go down)."""
    fields = _stat(pid)
    if fields is None:
        return None
    own = sum(int(value) for value in fields[11:15]) / TICKS_PER_S
    parent = str(pid)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(entry.name)) and fields[1] == parent:
            own += (int(fields[11]) + int(fields[12])) / TICKS_PER_S
    return own


def machine_busy_s() -> float | None:
    """CPU seconds the whole machine spent not idle, all cores."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    ticks = [int(value) for value in first[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks) - idle) / TICKS_PER_S


@dataclass
class CpuWatch:
    """CPU seconds of each process with its children (and of the machine) since `start`."""

    pids: Mapping[str, int]
    started: float = 0.0
    before: dict[str, float | None] | None = None

    def start(self) -> None:
        self.started = time.monotonic()
        self.before = self._read()

    def _read(self) -> dict[str, float | None]:
        return {name: family_cpu_s(pid) for name, pid in self.pids.items()} | {
            "machine": machine_busy_s()
        }

    def shares(self) -> dict[str, float]:
        """Name -> share of one core used since `start` (1.0 = one core busy)."""
        wall = time.monotonic() - self.started
        after = self._read()
        if self.before is None or wall <= 0:
            return {}
        return {
            name: (after_s - before_s) / wall
            for name, after_s in after.items()
            if after_s is not None and (before_s := self.before.get(name)) is not None
        }


def cpu_line(rate: float, shares: Mapping[str, float]) -> str:
    if not shares:
        return f"{rate:,.0f}/s: CPU n/a"
    parts = [f"{name} {share * 100:,.0f}%" for name, share in shares.items()]
    return f"{rate:,.0f}/s: CPU (100% = one core of {os.cpu_count()}): " + ", ".join(parts)
