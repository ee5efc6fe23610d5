"""`relais normalize CARRIER FILE`: one carrier payload as normalized events, in JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

EXIT_BAD_INPUT = 2


def normalize(
    carrier: Annotated[
        str,
        typer.Argument(
            help="Carrier or aggregator, any name the alias table knows (colissimo, "
            "mondial-relay, 'Mondial Relay', aftership, 17track, ...) or 'generic'."
        ),
    ],
    file: Annotated[
        Path,
        typer.Argument(help="The carrier payload (JSON) to normalize; '-' reads stdin."),
    ],
) -> None:
    """Print the normalized tracking events of one carrier payload, one JSON object a line,
    oldest first.

    Each line has: tracking_number, status, substatus, incident (or null), occurred_at
    (ISO 8601 with offset), description, location, carrier_code, carrier_reason_code,
    code_recognized, estimated_delivery. Unknown carrier codes are logged on stderr.

    CARRIER goes through the tracker's alias table (relais_tracker.adapters.carriers.aliases):
    `mondial-relay`, `Mondial Relay` and `mondial_relay` are the same adapter. A payload
    that names the real carrier (aggregators, the generic format) adds `carrier` to each
    line.

    Exit code 2, with a one-line reason on stderr: unknown CARRIER, unreadable FILE or a
    payload the adapter cannot parse.

    Example: relais normalize ups tests/fixtures/carriers/ups/delivered.json
    """
    from relais_runtime.logging import configure_logging
    from relais_tracker.adapters.carriers import (
        ADAPTERS,
        PayloadError,
        adapter_for,
        parse,
        record_unknown_codes,
        to_record,
    )

    adapter = adapter_for(carrier)
    if adapter is None:
        _fail(f"unknown carrier {carrier!r}; known carriers: {', '.join(sorted(ADAPTERS))}")
    carrier = adapter.carrier
    try:
        payload = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as error:
        _fail(f"cannot read {file}: {error.strerror or error}")
    try:
        events = parse(carrier, payload)
    except PayloadError as error:
        _fail(f"{file}: {carrier} payload rejected: {error}")
    configure_logging(service="relais-normalize", level="warning", fmt="console")
    record_unknown_codes(events, carrier=carrier)
    for event in events:
        typer.echo(json.dumps(to_record(event), ensure_ascii=False, sort_keys=True))


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)
