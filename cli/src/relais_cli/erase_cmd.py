"""`relais erase --merchant M --customer EMAIL`: forget one customer everywhere in Relais.

An operator's command for a customer's erasure request (GDPR article 17). It runs the
tracker's own erasure step (relais_tracker.service.erasure, the one behind the merchant
API's `POST /v1/erasures`) on the tracker's schema, through RELAIS_DATABASE_URL (or
DATABASE_URL), like `relais tracker unmatched` reads it: one transaction erases the
tracker's rows, writes the tombstones to its outbox and the audit record. The running
tracker's outbox relay publishes the tombstones (at once: the outbox insert wakes it;
if the tracker is down, when it starts), and every other service erases its copy when
it reads them. No merchant API key is needed: the operator acts for the merchant.

Exit codes: 0 erased (or nothing left to erase), 1 the database cannot be reached or
the tracker never migrated it, 2 bad arguments or configuration (an unknown merchant,
a `--customer` that is not an email address). The address is never printed; the answer
is on stdout (`--json`: one object), the erasure's log line on stderr.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import asyncpg
import typer
from rich.console import Console

from relais_runtime.logging import configure_logging
from relais_runtime.merchants import merchants_of
from relais_runtime.settings import ConfigurationError

if TYPE_CHECKING:
    from relais_tracker.service.erasure import ErasureOutcome
    from relais_tracker.settings import TrackerSettings

err = Console(stderr=True, soft_wrap=True, highlight=False)

MerchantOption = Annotated[
    str, typer.Option("--merchant", help="The merchant id whose customer it is.")
]
CustomerOption = Annotated[
    str,
    typer.Option(
        "--customer", help="The customer's email address (trimmed, any case).", show_default=False
    ),
]
SchemaOption = Annotated[
    str, typer.Option("--schema", help="The tracker's PostgreSQL schema.", hidden=True)
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object instead of a sentence.")]


def erase(
    merchant: MerchantOption,
    customer: CustomerOption,
    schema: SchemaOption = "tracker",
    as_json: JsonOption = False,
) -> None:
    """Erase a customer of a merchant from every service (tombstones through the tracker)."""
    from relais_cli.tracker_cmd import tracker_settings
    from relais_tracker.domain.erasure import InvalidEmail, normalized_email

    settings = tracker_settings()
    _check_merchant(settings, merchant)
    try:
        normalized_email(customer)
    except InvalidEmail:
        err.print("[red]--customer: not an email address[/]")
        raise typer.Exit(2) from None
    # The erasure's log line (its id and counts) on stderr: stdout is the answer. Set up
    # once the input is accepted: a refusal changes nothing, not even the process's logging.
    configure_logging(service="relais-erase", level=settings.log_level, fmt=settings.log_format)
    outcome = _run(settings, schema=schema, merchant_id=merchant, email=customer)
    summary = {
        "erasure_id": str(outcome.erasure_id),
        "orders": outcome.counts.orders,
        "shipments": outcome.counts.shipments,
        "tracking_events": outcome.counts.tracking_events,
        "held_events": outcome.counts.held_events,
    }
    if as_json:
        typer.echo(json.dumps(summary))
    elif outcome.counts.found:
        typer.echo(
            f"erasure {summary['erasure_id']}: {summary['orders']} order(s) and "
            f"{summary['shipments']} shipment(s) erased in the tracker; their tombstones "
            "are in its outbox, every other service erases its copy on reading them"
        )
    else:
        typer.echo(f"erasure {summary['erasure_id']}: nothing of this customer left in the tracker")


def _check_merchant(settings: TrackerSettings, merchant_id: str) -> None:
    """Exit 2 unless the tracker's merchant directory knows `merchant_id`."""
    try:
        merchants = merchants_of(settings.merchants_dir)
    except ConfigurationError as error:
        err.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    if settings.merchants_dir is not None and merchant_id not in merchants:
        err.print(f"[red]--merchant: no merchant {merchant_id!r} in {settings.merchants_dir}[/]")
        raise typer.Exit(2)


def _run(settings: TrackerSettings, *, schema: str, merchant_id: str, email: str) -> ErasureOutcome:
    from relais_tracker.bootstrap import Topics
    from relais_tracker.service.erasure import CustomerErasure, ErasureSource

    topics = Topics.of(settings.topic_overrides)
    erasure = CustomerErasure(
        shipment_state=topics.shipment_state,
        orders=topics.orders,
        now=settings.build_clock().now,
    )

    async def run() -> ErasureOutcome:
        connection = await asyncpg.connect(
            settings.database_url, server_settings={"search_path": schema}
        )
        try:
            return await erasure.erase(
                connection, merchant_id=merchant_id, email=email, source=ErasureSource.CLI
            )
        finally:
            await connection.close()

    try:
        return asyncio.run(run())
    except asyncpg.UndefinedTableError:
        err.print("[red]the tracker's tables are missing: start the tracker once to migrate[/]")
        raise typer.Exit(1) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        err.print(f"[red]cannot reach the tracker's database: {type(error).__name__}[/]")
        raise typer.Exit(1) from None
