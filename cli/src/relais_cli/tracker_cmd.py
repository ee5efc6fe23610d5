"""`relais tracker unmatched`: the carrier events the tracker holds without an order, and
why; read from the tracker's schema through RELAIS_DATABASE_URL (or DATABASE_URL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from relais_runtime.settings import ConfigurationError, load_settings

if TYPE_CHECKING:
    from relais_tracker.repository import HeldEventRow
    from relais_tracker.settings import TrackerSettings

app = typer.Typer(help="The tracker service: what it holds without an order.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True, highlight=False)

TRACKER_SCHEMA = "tracker"
"""The tracker's PostgreSQL schema (relais_tracker.bootstrap.build_spec)."""

T = TypeVar("T")

LimitOption = Annotated[int, typer.Option("--limit", min=1, max=100_000, help="Rows shown.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="One JSON object a line instead of a table.")
]


def tracker_settings() -> TrackerSettings:
    """The tracker's settings from the environment, or exit 2 naming what is wrong."""
    from relais_tracker.settings import TrackerSettings

    try:
        return load_settings(TrackerSettings)
    except ConfigurationError as error:
        err.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None


def read_tracker(
    settings: TrackerSettings, read: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """`read` on a connection to the tracker's schema; a database that cannot be reached,
    or a schema the tracker never migrated, exits 1 with one line saying so."""

    async def run() -> T:
        connection = await asyncpg.connect(
            settings.database_url, server_settings={"search_path": TRACKER_SCHEMA}
        )
        try:
            return await read(connection)
        finally:
            await connection.close()

    try:
        return asyncio.run(run())
    except asyncpg.UndefinedTableError:
        err.print("[red]the tracker's tables are missing: start the tracker once to migrate[/]")
        raise typer.Exit(1) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        err.print(f"[red]cannot read the tracker's database: {type(error).__name__}[/]")
        raise typer.Exit(1) from None


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


@app.command("unmatched")
def unmatched_command(limit: LimitOption = 100, as_json: JsonOption = False) -> None:
    """List the carrier events held without an order, and why.

    Oldest first: carrier, tracking number (masked but for its last 4 characters), when
    it was received, its age, when it expires (RELAIS_HELD_EVENT_TTL_S, default 7 days)
    and why it is held: no order with that number, an order whose carrier is
    incompatible (named), an order of another merchant, or an order that arrived since
    (the event is taken at that order's next update).
    """
    from relais_tracker import repository

    settings = tracker_settings()
    rows = read_tracker(
        settings, lambda connection: repository.list_pending_events(connection, limit=limit)
    )
    records = held_records(
        rows, ttl=timedelta(seconds=settings.held_event_ttl_s), now=settings.build_clock().now()
    )
    if as_json:
        for record in records:
            typer.echo(json.dumps(record, ensure_ascii=False))
        return
    table = Table(title=f"Carrier events held without an order ({len(records)})")
    for column in ("carrier", "tracking number", "received (UTC)", "age", "expires in", "why"):
        table.add_column(column)
    for record in records:
        why = record["why"]
        if record["order_carriers"]:
            why += f" (order says {', '.join(record['order_carriers'])})"
        table.add_row(
            record["carrier"],
            record["tracking_number"],
            when(datetime.fromisoformat(record["received_at"])),
            record["age"],
            record["expires_in"],
            why,
        )
    Console().print(table)


def held_records(
    rows: Sequence[HeldEventRow], *, ttl: timedelta, now: datetime
) -> list[dict[str, Any]]:
    """What `unmatched` shows of each held event (never the whole tracking number)."""
    from relais_tracker.domain.held_events import age_text, expires_in, masked, why_held

    records = []
    for row in rows:
        reason, carriers = why_held(
            carrier=row.carrier, merchant_id=row.merchant_id, parcels=row.parcels
        )
        records.append(
            {
                "carrier": row.carrier,
                "tracking_number": masked(row.tracking_key),
                "received_at": row.received_at.isoformat(),
                "age": age_text(now - row.received_at),
                "expires_in": age_text(expires_in(row.received_at, ttl=ttl, now=now)),
                "why": reason.value,
                "order_carriers": list(carriers),
            }
        )
    return records
