"""`relais fuzz`: bad input at every edge of a running Relais, counted (docs/fuzzing.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from relais_cli.fuzz.infra import default_state_dir


def fuzz(
    seed: Annotated[int, typer.Option(help="Seed of every generator (schemathesis too).")] = 7,
    examples: Annotated[
        int | None,
        typer.Option(
            "--examples",
            min=1,
            help="schemathesis test cases per API operation and phase (50; 25 with --quick).",
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Fewer cases everywhere: schemathesis without its coverage phase and 25 "
            "examples, 2 malformed messages of each kind per topic, 2 webhook cases of each "
            "kind per carrier, 10 random form cases per page.",
        ),
    ] = False,
    output: Annotated[
        Path, typer.Option(help="Where report.json, report.html and the HTTP reports go.")
    ] = Path("artifacts/fuzz"),
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="State dir of the isolated Kafka, PostgreSQL and SMTP, wiped first "
            "(default ~/.local/state/relais-fuzz)."
        ),
    ] = None,
    keep_infra: Annotated[
        bool, typer.Option("--keep-infra", help="Leave the isolated infrastructure running.")
    ] = False,
) -> None:
    """Fuzz every edge of Relais and print the figures: HTTP APIs, carrier webhooks, Kafka.

    Never touches the shared infrastructure: its own Kafka (127.0.0.1:29092), PostgreSQL
    (:25432) and SMTP catcher (:21025) in STATE_DIR, wiped at the start and stopped at
    the end; the six services run in this process on ports 28001-28006.

    HTTP: each service's OpenAPI document fuzzed with schemathesis, with the merchant's
    API key where an endpoint needs one; every 5xx is listed with a curl reproducer and
    the service's traceback. Carrier webhooks: random bytes, bodies over the limit (413),
    deeply nested and wrongly shaped JSON (4xx), unsigned calls (401); nothing may be
    published for a refused call. Kafka: malformed messages of six kinds on every topic a
    service consumes, then a valid sentinel; every consumer group must dead-letter every
    malformed message with a reason and process the sentinel. Forms: the chat, survey,
    unsubscribe and insights login pages, opened with valid links, get hostile form
    bodies (no 5xx). No loop may crash.

    Prints a table per target, writes OUTPUT/report.json and OUTPUT/report.html.
    Exit status 1 when anything failed, 2 when the isolated infrastructure cannot start.
    """
    from relais_cli.fuzz.runner import plan_run, run
    from relais_cli.infra.base import InfraError

    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=140)  # a log file gets the whole table
    plan = plan_run(seed=seed, examples=examples, quick=quick)
    try:
        result = run(
            plan,
            state_dir=state_dir or default_state_dir(),
            output=output,
            console=console,
            keep_infra=keep_infra,
        )
    except InfraError as error:
        console.print(f"[red]relais fuzz: {error}[/]", highlight=False)
        raise typer.Exit(2) from None
    totals = result.report["totals"]
    verdict = "[green]PASSED[/]" if result.passed else "[red]FAILED[/]"
    console.print(
        f"{verdict}: {totals['http_requests']} HTTP requests, {totals['http_5xx']} 5xx; "
        f"{totals['webhook_cases']} webhook cases, {totals['webhook_failures']} unexpected "
        f"answers; {totals['kafka_dead_lettered']}/{totals['kafka_dead_letters_expected']} "
        f"malformed messages dead-lettered ({totals['kafka_dead_lettered_percent']} %), "
        f"sentinels {totals['kafka_sentinels_processed']}/{totals['kafka_sentinels_expected']}"
        f", crashed loops {totals['crashed_loops']}; report {result.json_path}, "
        f"{result.html_path}"
    )
    if not result.passed:
        raise typer.Exit(1)
