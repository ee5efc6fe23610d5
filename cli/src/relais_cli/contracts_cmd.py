"""`relais contracts`: the shared message contracts, as schemas, documents and a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help=(
        "The message contracts every service shares (package relais_contracts).\n\n"
        "Everything here is generated from the Pydantic models and the topic registry."
    ),
    no_args_is_help=True,
)


@app.command("export")
def export_cmd(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Directory to write into (created if missing).",
            file_okay=False,
            dir_okay=True,
            writable=True,
        ),
    ],
    clean: Annotated[
        bool,
        typer.Option(
            "--clean",
            help="Also delete *.schema.json files under DIRECTORY that the models no longer "
            "produce.",
        ),
    ] = False,
) -> None:
    """Write the JSON Schema of every message and the AsyncAPI document into DIRECTORY.

    <topic>/<EventType>.v<N>.schema.json: one per message type (draft 2020-12, wire format).

    webhooks/*.schema.json: the merchant action webhook's request and response bodies.

    asyncapi.json: AsyncAPI 3.0; channels are topics with Kafka bindings, messages event types.

    Example: relais contracts export /tmp/relais-schemas
    """
    from relais_contracts.export import ASYNCAPI_FILE, export

    written = export(directory, clean=clean)
    schemas = sum(1 for path in written if path.name.endswith(".schema.json"))
    typer.echo(f"wrote {schemas} JSON Schemas and {ASYNCAPI_FILE} to {directory}")


@app.command("docs")
def docs_cmd(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Where to write; default: contracts/docs of this checkout."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the files differ from the models."),
    ] = False,
) -> None:
    """Regenerate taxonomy.md and topics.md from the models.

    taxonomy.md: statuses, substatuses, incidents, anomaly catalogue, AfterShip and Karrio maps.

    topics.md: every topic with its key, messages, producers, consumers and retention.
    """
    from relais_contracts.docs import DOCS_DIR, render_all, write_all

    target = directory or DOCS_DIR
    if check:
        stale = [
            name
            for name, content in render_all().items()
            if not (target / name).is_file()
            or (target / name).read_text(encoding="utf-8") != content
        ]
        if stale:
            typer.echo(f"out of date in {target}: {', '.join(stale)}", err=True)
            raise typer.Exit(1)
        typer.echo(f"{target} is up to date")
        return
    for path in write_all(target):
        typer.echo(f"wrote {path}")


@app.command("list")
def list_cmd() -> None:
    """List every topic: name, key, partitions, cleanup, producers, consumers, messages."""
    from relais_contracts.topics import ALL_TOPICS

    for topic in ALL_TOPICS:
        producers = ",".join(s.value for s in topic.producers) or "-"
        consumers = ",".join(s.value for s in topic.consumers) or "-"
        typer.echo(
            f"{topic.name}  partitions={topic.partitions} cleanup={topic.cleanup.value} "
            f"producers={producers} consumers={consumers}\n"
            f"    key: {topic.key}\n"
            f"    messages: {', '.join(topic.event_types)}"
        )
