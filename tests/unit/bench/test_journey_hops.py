"""The pure parts of `relais bench journey`'s breakdown: hops cut from stored times, CPU
shares from /proc."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from relais_cli.bench.journey_cpu import CpuWatch, cpu_line, process_cpu_s
from relais_cli.bench.journey_hops import HOPS, STAMP_COLUMNS, hop_durations


def test_a_journey_is_cut_at_each_stored_time() -> None:
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    stamps: list[datetime | None] = [
        start + timedelta(milliseconds=ms) for ms in (100, 150, 200, 260, 300, 400)
    ]
    webhook_at = start.timestamp()
    durations = hop_durations(webhook_at, webhook_at + 0.02, stamps, webhook_at + 0.45)
    assert len(durations) == len(HOPS) == len(STAMP_COLUMNS) + 2
    assert [round(d * 1000) for d in durations] == [20, 80, 50, 50, 60, 40, 100, 50]
    assert abs(sum(durations) - 0.45) < 1e-6


def test_a_journey_with_a_missing_time_is_left_out() -> None:
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    stamps: list[datetime | None] = [start, start, None, start, start, start]
    assert hop_durations(start.timestamp(), start.timestamp(), stamps, start.timestamp()) == []


def test_cpu_is_read_for_a_live_process_only() -> None:
    own = process_cpu_s(os.getpid())
    assert own is not None
    assert own > 0
    assert process_cpu_s(2**22 + 12345) is None  # above the kernel's pid_max
    watch = CpuWatch({"bench": os.getpid()})
    watch.start()
    sum(i * i for i in range(200_000))  # some CPU for this process
    shares = watch.shares()
    assert shares["bench"] > 0
    assert "bench" in cpu_line(50, shares)
