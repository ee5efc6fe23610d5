"""What the benchmarks share: the console, a free port, the throw-away schema's
removal and the exit on a configuration error (matplotlib: relais_cli.plots)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from typing import Any

import asyncpg
import typer
from rich.console import Console

from relais_runtime.settings import ConfigurationError

console = Console()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def drop_schema(database_url: str, schema: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


def run_bench(name: str, bench: Coroutine[Any, Any, None]) -> None:
    """Run the benchmark; a configuration error is printed, exit code 2."""
    try:
        asyncio.run(bench)
    except ConfigurationError as error:
        console.print(f"[red]relais bench {name}: {error}[/red]")
        raise typer.Exit(2) from None
