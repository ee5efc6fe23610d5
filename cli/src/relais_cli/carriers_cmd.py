"""`relais carriers unknown-codes`: the carrier codes the tracker's adapters saw but no
code table knows, so an operator knows which table to extend; read from the tracker's
schema (table `unknown_carrier_codes`) through RELAIS_DATABASE_URL (or DATABASE_URL)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from relais_cli.tracker_cmd import JsonOption, LimitOption, read_tracker, tracker_settings, when

app = typer.Typer(
    help="Carriers: what the tracker's adapters met and could not read.", no_args_is_help=True
)


@app.command("unknown-codes")
def unknown_codes_command(
    carrier: Annotated[
        str | None,
        typer.Option(
            "--carrier", help="Only this adapter's codes (colissimo, aftership, 17track...)."
        ),
    ] = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """List the carrier codes seen but not recognised, with counts and an example.

    Most seen first: the adapter that read them (its table is the one to extend: an
    aggregator's own code is listed under the aggregator), the code, how many events
    carried it, when it was first and last seen, and an example description. Such
    events were kept as the taxonomy's safe default (`in_transit_unspecified`,
    `code_recognized: false`).
    """
    from relais_tracker import repository
    from relais_tracker.adapters.carriers import adapter_for

    adapter = adapter_for(carrier) if carrier is not None else None
    only = adapter.carrier if adapter is not None else carrier
    rows = read_tracker(
        tracker_settings(),
        lambda connection: repository.list_unknown_codes(connection, carrier=only, limit=limit),
    )
    if as_json:
        for row in rows:
            record = {
                "carrier": row.carrier,
                "carrier_code": row.carrier_code,
                "seen": row.seen,
                "first_seen_at": row.first_seen_at.isoformat(),
                "last_seen_at": row.last_seen_at.isoformat(),
                "example": row.example,
            }
            typer.echo(json.dumps(record, ensure_ascii=False))
        return
    table = Table(title=f"Carrier codes no table knows ({len(rows)})")
    for column in ("carrier", "code", "seen", "first seen (UTC)", "last seen (UTC)", "example"):
        table.add_column(column, justify="right" if column == "seen" else "left")
    for row in rows:
        table.add_row(
            row.carrier,
            row.carrier_code,
            str(row.seen),
            when(row.first_seen_at),
            when(row.last_seen_at),
            row.example,
        )
    Console().print(table)
