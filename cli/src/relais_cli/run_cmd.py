"""`relais run SERVICE` (one service in the foreground) and `relais up` (everything)."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Protocol

import typer
from rich.console import Console
from rich.table import Table

from relais_cli.dev_secrets import ensure_dev_secrets
from relais_cli.infra.settings import InfraSettings
from relais_runtime.merchants import MerchantConfigError, load_merchants
from relais_runtime.settings import ConfigurationError

console = Console(stderr=True)


class ServiceName(StrEnum):
    TRACKER = "tracker"
    DETECTOR = "detector"
    NOTIFIER = "notifier"
    CHAT = "chat"
    ACTIONS = "actions"
    INSIGHTS = "insights"


DEFAULT_PORTS = {
    ServiceName.TRACKER: 8001,
    ServiceName.DETECTOR: 8002,
    ServiceName.NOTIFIER: 8003,
    ServiceName.CHAT: 8004,
    ServiceName.ACTIONS: 8005,
    ServiceName.INSIGHTS: 8006,
}


def run(
    service: Annotated[ServiceName, typer.Argument(help="Which service to run.")],
) -> None:
    """Run one service in the foreground until SIGTERM or Ctrl-C.

    It migrates its PostgreSQL schema, connects to Kafka, consumes its topics and
    serves /health, /ready and /metrics on its port (RELAIS_HTTP_PORT, default
    8001 tracker ... 8006 insights). Configuration comes from RELAIS_* variables.
    """
    entrypoint = importlib.import_module(f"relais_{service.value}.entrypoint")
    try:
        entrypoint.main()
    except ConfigurationError as error:
        console.print(f"[red]relais {service.value}: {error}[/red]")
        raise typer.Exit(2) from None


@dataclass
class Child:
    service: ServiceName
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]


def service_environment(*, state_dir: Path, merchants_dir: Path | None = None) -> dict[str, str]:
    """What the services need on a developer's machine: merchants and dev secrets."""
    merchants_dir = merchants_dir or Path(
        os.environ.get("RELAIS_MERCHANTS_DIR") or Path.cwd() / "deploy/merchants"
    )
    try:
        merchants = load_merchants(merchants_dir)
    except MerchantConfigError as error:
        console.print(f"[red]{error}[/red]", markup=False)
        raise typer.Exit(2) from None
    secrets = ensure_dev_secrets(state_dir=state_dir, merchants=merchants)
    if secrets:
        console.print(
            f"using local-only secrets for {', '.join(sorted(secrets))} "
            f"(generated in {state_dir / 'dev-secrets.env'})"
        )
    return {"RELAIS_MERCHANTS_DIR": str(merchants_dir.absolute()), **secrets}


def relais_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "relais_cli.main", *args]


def _local_urls(service: ServiceName) -> dict[str, str]:
    """Insights renders a campaign's preview at the local notifier (unless set already)."""
    if service is ServiceName.INSIGHTS and "RELAIS_NOTIFIER_URL" not in os.environ:
        return {"RELAIS_NOTIFIER_URL": f"http://127.0.0.1:{DEFAULT_PORTS[ServiceName.NOTIFIER]}"}
    return {}


def start_child(service: ServiceName, *, directory: Path, environment: dict[str, str]) -> Child:
    port = DEFAULT_PORTS[service]
    log_path = directory / f"{service.value}.log"
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        relais_command("run", service.value),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**os.environ, **environment, **_local_urls(service), "RELAIS_HTTP_PORT": str(port)},
    )
    return Child(service=service, port=port, log_path=log_path, process=process, log_file=log_file)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_healthy(children: list[Child], *, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = {child.service for child in children}
    with console.status("starting services...") as status:
        while waiting and time.monotonic() < deadline:
            for child in children:
                if child.service not in waiting:
                    continue
                if child.process.poll() is not None:
                    raise_child_died(child)
                if healthy(child.port):
                    waiting.discard(child.service)
                    console.print(f"  [green]✓[/green] {child.service.value} on :{child.port}")
            status.update(f"starting services... waiting for {', '.join(sorted(waiting))}")
            time.sleep(0.3)
    if waiting:
        stop_children(children)
        console.print(f"[red]not healthy after {timeout_s:.0f} s: {', '.join(sorted(waiting))}")
        raise typer.Exit(1)


def raise_child_died(child: Child) -> None:
    tail = child.log_path.read_text(errors="replace").splitlines()[-15:]
    console.print(f"[red]{child.service.value} exited with {child.process.returncode}:[/red]")
    for line in tail:
        console.print(f"    {line}", markup=False)
    raise typer.Exit(1)


class RunningChild(Protocol):
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]


def stop_children(children: Sequence[RunningChild], *, grace_s: float = 30) -> None:
    """SIGTERM to every child, then wait for all of them (SIGKILL after `grace_s`)."""
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
        child.log_file.close()


def up(
    services: Annotated[
        list[ServiceName] | None,
        typer.Argument(help="Services to start (default: all of them)."),
    ] = None,
) -> None:
    """Bring up the local infrastructure and the services, supervised, until Ctrl-C.

    Starts Kafka, PostgreSQL and the SMTP server (`relais infra up`), creates the
    topics (`relais topics apply`), then runs each service as its own process
    with its own log file, and stops them all cleanly on Ctrl-C or SIGTERM.
    """
    for step in (("infra", "up"), ("topics", "apply")):
        subprocess.run(relais_command(*step), check=True)
    paths = InfraSettings().paths
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    environment = service_environment(state_dir=paths.root)
    children = [
        start_child(service, directory=paths.logs_dir, environment=environment)
        for service in services or ServiceName
    ]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        wait_healthy(children)
        show_children(children)
        console.print("Relais is up. Ctrl-C stops the services (the infrastructure stays up).")
        while True:
            for child in children:
                if child.process.poll() is not None:
                    raise_child_died(child)
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping services...")
    finally:
        stop_children(children)
        console.print("services stopped; `relais infra down` stops the infrastructure.")


def show_children(children: list[Child]) -> None:
    table = Table(title="Relais services")
    for column in ("service", "pid", "health", "metrics", "log"):
        table.add_column(column)
    for child in children:
        base = f"http://127.0.0.1:{child.port}"
        table.add_row(
            child.service.value,
            str(child.process.pid),
            f"{base}/health",
            f"{base}/metrics",
            str(child.log_path),
        )
    console.print(table)
