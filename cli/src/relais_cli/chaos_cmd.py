"""`relais chaos`: fault injection on the whole stack, verified from the outside."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from relais_cli.chaos.infra import default_state_dir
from relais_cli.chaos.plan import plan_run

HELP = "\n\n".join(
    (
        "Run the six services as separate processes under real traffic, inject faults, and "
        "verify from the outside that nothing was lost or duplicated (docs/chaos.md).",
        "Never touches the shared infrastructure: its own Kafka (127.0.0.1:19092), "
        "PostgreSQL (:15432), SMTP catcher (:11025) and services (:18001-18006), in "
        "--state-dir, wiped at the start of each run and stopped at the end.",
        "Traffic: orders through the order API, carrier scans through the carrier webhooks "
        "in the carriers' own formats, chat answers over HTTP, a merchant endpoint that "
        "sometimes answers 503 or too late. Faults, at seeded times: kill -9 of random "
        "services (restarted by a supervisor), kill -9 of Kafka then a restart, kill -9 of "
        "PostgreSQL and its backends then a restart, the SMTP catcher down.",
        "Verified once the pipeline is quiet, each layer against what the layer before it "
        "produced: accepted orders and scans are in the tracker; every anomaly the parcels' "
        "stories imply is opened once; every anomaly opened, milestone and completed action "
        "has its notification; every email recorded as sent is in the SMTP catcher exactly "
        "once (by Message-ID and by recipient); every choice and automatic rule has its "
        "action, and every action reached the merchant exactly once (by Idempotency-Key); "
        "no valid message was dead-lettered; every service's /ready is 200.",
        "Prints the counts and the recovery time after each fault (from the fault's end to "
        "the first new output of the faulted component), writes report.json, "
        "throughput.png and the services' logs into --output. Exit status 1 when anything "
        "was lost or duplicated or a service is not ready.",
    )
)


def chaos(
    seed: Annotated[int, typer.Option(help="Seed of the traffic, the faults and the stub.")] = 7,
    events: Annotated[
        int, typer.Option(min=50, help="Carrier events to send (at least).")
    ] = 10_000,
    small: Annotated[
        bool,
        typer.Option(
            "--small",
            help="One fault of each kind, a few hundred events, SMTP down 20 s: under 3 "
            "minutes. Sets --events to 300 unless given.",
        ),
    ] = False,
    smtp_down: Annotated[
        float | None,
        typer.Option(min=1, help="Seconds the SMTP catcher stays down (60; 20 with --small)."),
    ] = None,
    service_kills: Annotated[
        int, typer.Option(min=1, help="kill -9 of random services (at least 5 in a full run).")
    ] = 6,
    faults: Annotated[
        bool, typer.Option("--faults/--no-faults", help="--no-faults: the fault-free reference.")
    ] = True,
    output: Annotated[
        Path, typer.Option(help="Where report.json, throughput.png and the service logs go.")
    ] = Path("artifacts/chaos"),
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="State dir of the isolated Kafka, PostgreSQL and SMTP, wiped first "
            "(default ~/.local/state/relais-chaos)."
        ),
    ] = None,
    keep_infra: Annotated[
        bool, typer.Option("--keep-infra", help="Leave the isolated infrastructure running.")
    ] = False,
) -> None:
    """Faults on the whole stack, verified from the outside (HELP, docs/chaos.md)."""
    from relais_cli.chaos.runner import run

    console = Console(stderr=True)
    if small and events == 10_000:
        events = 300
    plan = plan_run(
        seed=seed,
        events=events,
        small=small,
        smtp_down_s=smtp_down,
        service_kills=service_kills,
        faults=faults,
    )
    result = run(
        plan,
        state_dir=state_dir or default_state_dir(),
        output=output,
        console=console,
        keep_infra=keep_infra,
    )
    verdict = "[green]PASSED[/]" if result.passed else "[red]FAILED[/]"
    console.print(
        f"{verdict}: lost {result.verification.lost}, duplicated "
        f"{result.verification.duplicated}, loops alive: {result.verification.loops_alive}; "
        f"report {result.report_path}, plot {result.plot_path}"
    )
    if not result.passed:
        raise typer.Exit(1)
