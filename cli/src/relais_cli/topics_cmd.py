"""`relais topics`: the broker's topics, made to match the topic registry."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from relais_cli.infra.base import InfraError
from relais_cli.infra.topics import (
    TopicPlan,
    TopicSpec,
    TopicState,
    apply_topics,
    list_topics,
    plan_topic,
)
from relais_cli.infra_cmd import load_settings
from relais_cli.kafka_access import kafka_security_from_env

app = typer.Typer(
    help=(
        "Kafka topics of the registry (relais_contracts.topics.ALL_TOPICS): create them, "
        "set their cleanup policy and retention, grow their partitions."
    ),
    no_args_is_help=True,
)

BootstrapOption = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="Kafka bootstrap servers (default: RELAIS_KAFKA_BOOTSTRAP, else 127.0.0.1:9092).",
    ),
]


def registry_specs() -> list[TopicSpec]:
    """The registry's topics as specs (imported here, when a command runs)."""
    from relais_contracts.topics import ALL_TOPICS

    return [
        TopicSpec(name=topic.name, partitions=topic.partitions, configs=topic.kafka_config())
        for topic in ALL_TOPICS
    ]


def apply_registry(
    *,
    bootstrap: str | None = None,
    replication_factor: int = 1,
    dry_run: bool = False,
    console: Console | None = None,
) -> list[TopicPlan]:
    """Apply the registry to the broker and print one line per change.

    For other commands (`relais test`) as well as `relais topics apply`; raises InfraError.
    """
    console = console or Console(soft_wrap=True)
    target = bootstrap or load_settings().kafka_bootstrap
    plans = asyncio.run(
        apply_topics(
            bootstrap=target,
            specs=registry_specs(),
            replication_factor=replication_factor,
            dry_run=dry_run,
            security=kafka_security_from_env(),
        )
    )
    for topic_plan in plans:
        for line in topic_plan.describe():
            console.print(line, highlight=False, markup=False)
    changed = sum(1 for topic_plan in plans if topic_plan.changed)
    prefix = "would change" if dry_run else "changed"
    console.print(f"{len(plans)} topic(s) in the registry, {prefix} {changed} on {target}")
    return plans


@app.command("apply")
def apply(
    bootstrap: BootstrapOption = None,
    replication_factor: Annotated[
        int, typer.Option("--replication-factor", min=1, help="For topics created now.")
    ] = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
) -> None:
    """Create missing topics, set cleanup policy and retention, grow partitions. Idempotent.

    Topic-level overrides the registry does not name are removed.

    Partitions never shrink; topics outside the registry are not touched.
    """
    try:
        apply_registry(bootstrap=bootstrap, replication_factor=replication_factor, dry_run=dry_run)
    except InfraError as error:
        Console(stderr=True).print(f"[red]{error}[/]", highlight=False)
        raise typer.Exit(1) from None


@app.command("list")
def list_(
    bootstrap: BootstrapOption = None,
    include_internal: Annotated[
        bool, typer.Option("--all", help="Include Kafka's internal topics (__…).")
    ] = False,
) -> None:
    """The broker's topics with partitions, cleanup policy and retention, and registry drift."""
    target = bootstrap or load_settings().kafka_bootstrap
    try:
        states = asyncio.run(
            list_topics(
                bootstrap=target,
                include_internal=include_internal,
                security=kafka_security_from_env(),
            )
        )
    except InfraError as error:
        Console(stderr=True).print(f"[red]{error}[/]", highlight=False)
        raise typer.Exit(1) from None
    specs = {spec.name: spec for spec in registry_specs()}
    table = Table("topic", "partitions", "cleanup.policy", "retention.ms", "registry")
    for state in states:
        spec = specs.get(state.name)
        drift = "-" if spec is None else _drift(spec, state)
        table.add_row(
            state.name,
            str(state.partitions),
            state.configs.get("cleanup.policy", ""),
            state.configs.get("retention.ms", ""),
            drift,
        )
    missing = sorted(set(specs) - {state.name for state in states})
    for name in missing:
        table.add_row(name, "", "", "", "[red]missing: run relais topics apply[/]")
    Console().print(table)


def _drift(spec: TopicSpec, state: TopicState) -> str:
    """Whether `relais topics apply` would change this topic."""
    if plan_topic(spec, state).changed:
        return "[yellow]differs: run relais topics apply[/]"
    return "[green]matches[/]"
