"""`relais insights`: operate the insights service (rebuild its figures from the topics)."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from relais_cli.run_cmd import DEFAULT_PORTS, ServiceName, healthy
from relais_runtime.settings import RuntimeSettings, load_settings

app = typer.Typer(help="The insights service: the merchants' KPIs.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("rebuild")
def rebuild_command(
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Drop the insights schema and rewind its consumer groups to the start of every topic.

    Stop the insights service first; its next start replays the topics into an empty
    schema (as far as the topics' retention reaches back) and recomputes every figure.
    """
    from relais_insights.service.rebuild import rebuild

    if healthy(DEFAULT_PORTS[ServiceName.INSIGHTS]):
        console.print("[red]the insights service is running: stop it first[/red]")
        raise typer.Exit(1)
    if not yes:
        typer.confirm("Drop the insights schema and replay every topic?", abort=True)
    groups = asyncio.run(rebuild(load_settings(RuntimeSettings)))
    for group in groups:
        console.print(f"  rewound {group}")
    console.print("insights schema dropped; start the service (`relais run insights`) to replay.")
