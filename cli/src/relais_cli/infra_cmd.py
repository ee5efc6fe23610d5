"""`relais infra`: local Kafka, PostgreSQL and SMTP catcher, without Docker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.status import Status
from rich.table import Table

from relais_cli.infra import process, smtp, stack
from relais_cli.infra.base import Action, ComponentStatus, InfraError, Outcome
from relais_cli.infra.paths import COMPONENTS
from relais_cli.infra.settings import InfraSettings
from relais_runtime.settings import describe_validation_error

app = typer.Typer(
    help=(
        "Local infrastructure without Docker: Kafka 4 (KRaft, 127.0.0.1:9092), PostgreSQL "
        "(DATABASE_URL, default 127.0.0.1:5432) and an SMTP catcher (127.0.0.1:1025) that "
        "stores mail in a Maildir. State lives in RELAIS_STATE_DIR (~/.local/state/relais)."
    ),
    no_args_is_help=True,
)

OnlyOption = Annotated[
    str | None,
    typer.Option(
        "--only", help="Comma-separated components to act on: kafka,postgres,smtp (default: all)."
    ),
]

SYMBOLS = {
    Action.STARTED: "[green]✓[/]",
    Action.RUNNING: "[green]✓[/]",
    Action.EXTERNAL: "[green]✓[/]",
    Action.STOPPED: "[yellow]■[/]",
    Action.NOT_OURS: "[yellow]-[/]",
    Action.NOT_RUNNING: "[dim]-[/]",
    Action.FAILED: "[red]✗[/]",
}


class ConsoleReporter:
    """Prints steps and outcomes as they happen; the spinner names what is still pending."""

    def __init__(self, console: Console, *, pending: tuple[str, ...], verb: str) -> None:
        self._console = console
        self._verb = verb
        self._progress = dict.fromkeys(pending, "")
        self.status: Status | None = None

    def step(self, component: str, message: str) -> None:
        self._console.print(f"  [cyan]{component:<8}[/] {message}", highlight=False)

    def waiting(self, component: str, message: str) -> None:
        if component in self._progress:
            self._progress[component] = message
        self._refresh()

    def finished(self, outcome: Outcome) -> None:
        self._progress.pop(outcome.component, None)
        detail = f" ({outcome.detail})" if outcome.detail and outcome.ok else ""
        where = f" {outcome.address}" if outcome.address else ""
        self._console.print(
            f"{SYMBOLS[outcome.action]} [bold]{outcome.component:<8}[/] {outcome.action.value}"
            f"{where} in {outcome.seconds:.1f} s{detail}",
            highlight=False,
        )
        if not outcome.ok:
            self._console.print(f"[red]{outcome.detail}[/]", highlight=False)
        self._refresh()

    def _refresh(self) -> None:
        if self.status is None:
            return
        parts = [f"{name}: {text}" if text else name for name, text in self._progress.items()]
        self.status.update(f"{self._verb} " + " · ".join(parts))


def load_settings() -> InfraSettings:
    """InfraSettings from the environment, or exit 2 naming the bad variable."""
    try:
        return InfraSettings()
    except ValidationError as error:
        Console(stderr=True).print(describe_validation_error(error, source="environment"))
        raise typer.Exit(2) from None


def _names(only: str | None) -> tuple[str, ...]:
    try:
        return stack.select(only)
    except InfraError as error:
        raise typer.BadParameter(str(error), param_hint="--only") from None


def bring_up(*, only: str | None = None, console: Console | None = None) -> bool:
    """Start the components (all by default); True when every one of them is up.

    For other commands (`relais test`, `relais up`) as well as `relais infra up`.
    """
    console = console or Console(soft_wrap=True)
    settings = load_settings()
    names = _names(only)
    started = time.monotonic()
    reporter = ConsoleReporter(console, pending=names, verb="starting")
    with console.status(f"starting {', '.join(names)}") as status:
        reporter.status = status
        outcomes = asyncio.run(stack.up_all(settings, names=names, reporter=reporter))
    ok = all(outcome.ok for outcome in outcomes)
    verdict = "[green]up[/]" if ok else "[red]FAILED[/]"
    console.print(f"infra up: {verdict} in {time.monotonic() - started:.1f} s", highlight=False)
    return ok


@app.command()
def up(only: OnlyOption = None) -> None:
    """Start Kafka, PostgreSQL and the SMTP catcher; return once each one answers.

    Safe to repeat: what already runs is left alone.

    PostgreSQL: the server DATABASE_URL reaches is used as it is (role and database created).

    Otherwise Debian's postgresql is installed if missing and relais starts its own cluster.

    Kafka's jars are fetched once with mvn into ~/.cache/relais.
    """
    if not bring_up(only=only):
        raise typer.Exit(1)


@app.command()
def down(
    only: OnlyOption = None,
    purge: Annotated[
        bool,
        typer.Option(
            "--purge",
            help="Also delete all state: Kafka data, the PostgreSQL cluster, mail, logs.",
        ),
    ] = False,
) -> None:
    """Stop what `relais infra up` started, never a server it did not start.

    Data is kept unless --purge is given; the downloaded Kafka jars are always kept.
    """
    console = Console(soft_wrap=True)
    settings = load_settings()
    names = _names(only)
    if purge and only:
        raise typer.BadParameter("--purge stops and deletes everything", param_hint="--only")
    reporter = ConsoleReporter(console, pending=names, verb="stopping")
    with console.status(f"stopping {', '.join(names)}") as status:
        reporter.status = status
        outcomes = asyncio.run(stack.down_all(settings, names=names, reporter=reporter))
    if not all(outcome.ok for outcome in outcomes):
        raise typer.Exit(1)
    if purge:
        for path in stack.purge(settings):
            console.print(f"deleted {path}", highlight=False)


def status_table(statuses: list[ComponentStatus]) -> Table:
    table = Table("component", "state", "address", "owner", "pid", "logs", "detail")
    for row in statuses:
        table.add_row(
            row.component,
            "[green]up[/]" if row.up else "[red]down[/]",
            row.address,
            row.owner,
            "" if row.pid is None else str(row.pid),
            row.log,
            row.detail,
        )
    return table


@app.command()
def status(only: OnlyOption = None) -> None:
    """Per component: up or down, address, pid when relais started it, log file.

    Exit status 0 when every component is up, 1 otherwise.
    """
    settings = load_settings()
    statuses = asyncio.run(stack.status_all(settings, names=_names(only)))
    Console().print(status_table(statuses))
    if not all(row.up for row in statuses):
        raise typer.Exit(1)


@app.command()
def logs(
    component: Annotated[
        str, typer.Argument(help="kafka, postgres, smtp (or kafka-fetch, postgres-install).")
    ],
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many lines.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
) -> None:
    """Print the end of a component's log file (the files `relais infra status` lists)."""
    settings = load_settings()
    known = (*COMPONENTS, "kafka-fetch", "postgres-install", "postgres-provision")
    if component not in known:
        raise typer.BadParameter(f"one of {', '.join(known)}", param_hint="COMPONENT")
    path = settings.paths.log(component)
    if not path.exists():
        Console(stderr=True).print(f"no log yet: {path}")
        raise typer.Exit(1)
    for line in process.tail(path, lines=lines):
        typer.echo(line)
    if follow:
        _follow(path)


def _follow(path: Path) -> None:
    """Print lines appended to `path` until interrupted."""
    with path.open("r", errors="replace") as handle:
        handle.seek(0, 2)
        try:
            while True:
                line = handle.readline()
                if line:
                    typer.echo(line, nl=False)
                else:
                    time.sleep(0.3)
        except KeyboardInterrupt:
            return


@app.command()
def mail(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show the newest N.")] = 20,
    clear: Annotated[bool, typer.Option("--clear", help="Delete every stored message.")] = False,
) -> None:
    """List the messages the SMTP catcher received (newest last), or delete them."""
    maildir = load_settings().paths.mail_dir
    console = Console()
    if clear:
        console.print(f"deleted {smtp.clear_messages(maildir)} message(s) from {maildir}")
        return
    received = smtp.read_messages(maildir)
    table = Table("#", "received (UTC)", "to", "subject", title=f"{len(received)} message(s)")
    for index, item in enumerate(received[-limit:], start=max(1, len(received) - limit + 1)):
        table.add_row(
            str(index), item.received_at.strftime("%Y-%m-%d %H:%M:%S"), item.to, item.subject
        )
    console.print(table)
