"""The figures of `relais bench journey`: a table per rate next to the targets, the
peak memory of each service, a plot of the percentiles against the rate, a JSON."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from relais_cli.bench.common import console
from relais_cli.bench.journey_cpu import cpu_line
from relais_cli.bench.journey_hops import hops_table
from relais_cli.bench.memory import TARGET_PEAK_RSS_MB, memory_table
from relais_cli.bench.stats import verdict
from relais_cli.plots import pyplot

if TYPE_CHECKING:
    from relais_cli.bench.journey import RateResult

P99_TARGETS_S = {200.0: 0.5, 500.0: 1.0}
"""p99 of webhook -> email, at these carrier events/s (issue 17)."""
FELL_BEHIND_S = 0.05
"""A sender whose p99 lateness exceeds this did not keep its schedule."""


def p99_target(rate: float) -> float | None:
    """The target that applies at `rate`: that of the nearest target rate at or below it
    (none below 200 events/s)."""
    below = [r for r in P99_TARGETS_S if r <= rate]
    return P99_TARGETS_S[max(below)] if below else None


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:,.0f}"


def report(
    results: list[RateResult], peaks: dict[str, float | None], *, restarts: int, per_order: int
) -> None:
    table = Table(title="relais bench journey: carrier webhook -> email accepted by SMTP (ms)")
    for column in (
        "events/s",
        "sent",
        "got/s",
        "202",
        "emails",
        "p50",
        "p90",
        "p99",
        "max",
        "p99 target",
    ):
        table.add_column(column, justify="right")
    for result in results:
        target = p99_target(result.rate)
        aim = (
            ""
            if target is None
            else (
                f"<= {target * 1000:,.0f} "
                f"{verdict(not math.isnan(result.latency.p99) and result.latency.p99 <= target)}"
            )
        )
        table.add_row(
            f"{result.rate:,.0f}",
            f"{result.events_sent:,}",
            f"{result.achieved_rate:,.1f}",
            f"{result.accepted:,}",
            f"{result.emails_received:,}/{result.emails_expected:,}",
            ms(result.latency.p50),
            ms(result.latency.p90),
            ms(result.latency.p99),
            ms(result.latency.max),
            aim,
        )
    console.print(table)
    console.print(
        f"one event in {per_order} is a failed delivery attempt emailed at once; latency = "
        "email stored by the SMTP catcher - webhook request written (wall clock)"
    )
    for result in results:
        behind = not math.isnan(result.late.p99) and result.late.p99 > FELL_BEHIND_S
        console.print(
            f"{result.rate:,.0f}/s: sender late against its schedule p99 {ms(result.late.p99)} "
            f"ms, max {ms(result.late.max)} ms; webhook answered in p50 "
            f"{ms(result.answered.p50)} ms, p99 {ms(result.answered.p99)} ms"
            + (" [red](fell behind: the rate was not offered as scheduled)[/red]" if behind else "")
        )
        console.print(cpu_line(result.rate, result.cpu))
        others = {status: n for status, n in result.answers.items() if status != 202}
        missing = result.emails_expected - result.emails_received
        if others or missing or result.duplicates:
            console.print(
                f"[yellow]{result.rate:,.0f}/s: answers other than 202 {others or 'none'}, "
                f"{missing} emails missing, {result.duplicates} duplicates[/yellow]"
            )
    for result in results:
        if result.hops:
            console.print(hops_table(result.rate, result.hops))
    console.print(memory_table(peaks, title="peak RSS per service process"))
    if restarts:
        console.print(f"[red]{restarts} service restarts during the run (see the logs)[/red]")
    console.print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


def write_artifacts(
    output: Path,
    results: list[RateResult],
    peaks: dict[str, float | None],
    *,
    restarts: int,
    per_order: int,
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "bench": "journey",
        "events_per_email": per_order,
        "p99_targets_s": {str(rate): s for rate, s in P99_TARGETS_S.items()},
        "rates": [
            {
                **{k: v for k, v in asdict(r).items() if k != "timed"},
                "answers": {str(k): v for k, v in r.answers.items()},
            }
            for r in results
        ],
        "peak_rss_mb": peaks,
        "peak_rss_target_mb": TARGET_PEAK_RSS_MB,
        "service_restarts": restarts,
        "load_average": os.getloadavg(),
    }
    path = output / "bench-journey.json"
    path.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")
    console.print(f"figures written to {path}")
    plot(output / "bench-journey.png", results)


def plot(path: Path, results: list[RateResult]) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    rates = [r.rate for r in results]
    for name in ("p50", "p90", "p99", "max"):
        values = [getattr(r.latency, name) * 1000 for r in results]
        axes.plot(rates, values, marker="o", label=name)
    targets = sorted(P99_TARGETS_S.items())
    axes.scatter(
        [r for r, _ in targets],
        [s * 1000 for _, s in targets],
        marker="x",
        s=80,
        color="red",
        label="p99 target",
        zorder=3,
    )
    axes.set_xlabel("carrier events per second (sustained)")
    axes.set_ylabel("webhook -> email accepted by SMTP (ms)")
    axes.set_title("relais bench journey")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    console.print(f"plot written to {path}")
