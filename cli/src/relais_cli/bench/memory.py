"""Peak resident memory (RSS) of the processes a benchmark runs, next to the target.

The peak is the kernel's high-water mark (VmHWM in /proc/<pid>/status): it covers the
whole life of the process, so it is read once, just before the process is stopped, and
no sampling can miss a short spike. psutil has no peak RSS on Linux, so /proc is read
directly; on a system without /proc the figure is "n/a".
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from relais_cli.bench.stats import verdict

TARGET_PEAK_RSS_MB = 150.0


def parse_vm_hwm_kb(status: str) -> int | None:
    """The VmHWM line of a /proc/<pid>/status text, in kB (None when absent)."""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                return int(fields[1])
    return None


def peak_rss_mb(pid: int) -> float | None:
    """Peak RSS of a live process in MB (10^6 bytes); None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kilobytes = parse_vm_hwm_kb(status)
    return None if kilobytes is None else kilobytes * 1024 / 1e6


def memory_table(peaks: dict[str, float | None], *, title: str = "peak RSS per process") -> Table:
    """One row per process: its peak RSS next to the 150 MB target."""
    table = Table(title=title)
    table.add_column("process")
    table.add_column("peak RSS (MB)", justify="right")
    table.add_column("target", justify="right")
    for name, peak in peaks.items():
        if peak is None:
            table.add_row(name, "n/a", f"<= {TARGET_PEAK_RSS_MB:.0f}")
            continue
        met = peak <= TARGET_PEAK_RSS_MB
        table.add_row(name, f"{peak:,.0f}", f"<= {TARGET_PEAK_RSS_MB:.0f} {verdict(met)}")
    return table
