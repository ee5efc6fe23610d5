"""`relais webhook`: check (or make) the signature of a merchant action webhook.

The scheme is relais_contracts.webhooks: `Relais-Signature: t=<unix seconds>,v1=<hex>`,
HMAC-SHA256 with the merchant's secret over `<t>.<raw body>`; a timestamp further
than the tolerance from now is refused (replay protection). docs/webhooks.md shows
the same check in a few lines of Python and Node.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from relais_contracts.webhooks import (
    SIGNATURE_HEADER,
    SIGNATURE_TOLERANCE_S,
    SignatureError,
    signature_header,
    verify_signature,
)

app = typer.Typer(
    help="Merchant action webhooks: verify a Relais-Signature header against a body.",
    no_args_is_help=True,
)
console = Console(stderr=True)

BodyFile = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, readable=True, help="The raw request body, byte for byte."
    ),
]
Secret = Annotated[str, typer.Option("--secret", help="The merchant's webhook signing secret.")]


@app.command()
def verify(
    body_file: BodyFile,
    secret: Secret,
    header: Annotated[
        str,
        typer.Option("--header", help=f"The {SIGNATURE_HEADER} header value: t=...,v1=..."),
    ],
    tolerance: Annotated[
        int,
        typer.Option(help="Largest accepted distance between the timestamp and now, in seconds."),
    ] = SIGNATURE_TOLERANCE_S,
) -> None:
    """Exit 0 if HEADER is a valid, fresh signature of BODYFILE with SECRET, else 1."""
    body = body_file.read_bytes()
    try:
        timestamp = verify_signature(
            secret.encode(), header, body, datetime.now(UTC), tolerance_s=tolerance
        )
    except SignatureError as error:
        console.print(f"[red]invalid signature: {error}[/red]")
        raise typer.Exit(1) from None
    signed_at = datetime.fromtimestamp(timestamp, UTC).isoformat()
    typer.echo(f"valid signature (signed at {signed_at})")


@app.command()
def sign(
    body_file: BodyFile,
    secret: Secret,
    timestamp: Annotated[
        int | None, typer.Option(help="Unix seconds to sign at (default: now).")
    ] = None,
) -> None:
    """Print the header Relais would send for BODYFILE: to test a merchant's receiver."""
    at = timestamp if timestamp is not None else int(datetime.now(UTC).timestamp())
    typer.echo(signature_header([secret.encode()], at, body_file.read_bytes()))
