"""`relais bench detector`: the timer sweep's cost with 10 k and 1 M pending timers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from relais_detector.bench import SweepFigures, measure
from relais_runtime.settings import DEFAULT_DATABASE_URL


def detector(
    size: Annotated[
        list[int] | None, typer.Option("--size", help="Pending timers (repeat the option).")
    ] = None,
    due: Annotated[int, typer.Option(help="Timers already due among them.")] = 200,
    repeats: Annotated[int, typer.Option(min=3, help="Timed sweeps per size.")] = 30,
    database_url: Annotated[
        str, typer.Option(envvar=["RELAIS_DATABASE_URL", "DATABASE_URL"])
    ] = DEFAULT_DATABASE_URL,
    schema: Annotated[
        str, typer.Option(help="Throw-away schema, dropped after.")
    ] = "bench_detector",
    plot: Annotated[Path | None, typer.Option(help="Write a PNG plot here.")] = None,
) -> None:
    """Time one sweep (claim + delete of the due timers) against 10 k and 1 M pending timers,
    print the figures and the claim's plan (an index range scan on due_at)."""
    sizes = size or [10_000, 1_000_000]
    figures = asyncio.run(
        measure(database_url=database_url, schema=schema, sizes=sizes, due=due, repeats=repeats)
    )
    for figure in figures:
        typer.echo(f"\n--- {figure.pending:,} pending timers, {figure.due} due: claim plan")
        typer.echo(figure.plan)
    typer.echo("")
    typer.echo(
        f"{'pending':>10} {'due':>5} {'claimed':>8} {'fill s':>7} {'claim median ms':>16} "
        f"{'sweep median ms':>16} {'sweep p95 ms':>13} {'no-index sweep ms':>18}"
    )
    for figure in figures:
        p95 = sorted(figure.indexed_ms)[int(0.95 * (len(figure.indexed_ms) - 1))]
        typer.echo(
            f"{figure.pending:>10,} {figure.due:>5} {figure.claimed:>8} {figure.fill_s:>7.1f} "
            f"{figure.claim_median_ms:>16.2f} {figure.indexed_median_ms:>16.2f} {p95:>13.2f} "
            f"{figure.unindexed_median_ms:>18.1f}"
        )
    if not all(figure.uses_index_range_scan for figure in figures):
        typer.echo("the claim did not use the timers_due index range scan", err=True)
        raise typer.Exit(1)
    if plot is not None:
        write_plot(figures, plot)
        typer.echo(f"plot written to {plot}")


def write_plot(figures: list[SweepFigures], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pending = [figure.pending for figure in figures]
    fig, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(pending, [f.indexed_median_ms for f in figures], "o-", label="sweep (due_at index)")
    axis.plot(pending, [f.unindexed_median_ms for f in figures], "s--", label="without the index")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("pending timers")
    axis.set_ylabel("one sweep, median (ms)")
    axis.set_title(f"Detector timer sweep, {figures[0].due} due timers")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
