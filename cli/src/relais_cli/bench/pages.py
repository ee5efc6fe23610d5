"""`relais bench pages`: the chat and tracking pages of one chat process under a
compiled load generator: requests/s, latency, database transactions per page view.

Rules:
- the chat runs as in production: `relais run chat` in its own process (uvicorn, one
  worker), on the shared infrastructure (`relais infra up`), but in a PostgreSQL
  database of its own, created for the run and dropped at the end: the database's
  transaction counter (pg_stat_database.xact_commit + xact_rollback) then counts the
  chat's transactions only; Kafka is shared, with the run's own consumer groups
  starting at the topics' end (nothing of other people's traffic is replayed);
- its read model is seeded with one shipment, its events and an open anomaly (as
  `relais bench chat` does), and the pages are the signed links a customer gets;
- the load comes from wrk (bombardier if wrk is missing), in its own process, at a
  fixed concurrency for a fixed duration, after a short warm-up;
- transactions per page view = (counter after - counter before - what the idle chat
  committed over as long, measured before the load) / requests; the raw figure, idle
  work included, is printed too. PostgreSQL publishes a backend's counters late (up to
  10 s for an idle one), so each reading waits that long; the warm-up runs the load's
  concurrency first, so the connections a load opens (each commits transactions of its
  own when it starts) are open before anything is counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from rich.table import Table

from relais_chat.domain.access import make_signer
from relais_chat.settings import ChatSettings
from relais_cli.bench.chat import MERCHANT, REPO_ROOT, _seed
from relais_cli.bench.common import console, free_port, run_bench
from relais_cli.bench.memory import TARGET_PEAK_RSS_MB, memory_table, peak_rss_mb
from relais_cli.bench.pages_load import LoadResult, LoadToolMissing, find_tool, run_load
from relais_cli.bench.stats import verdict
from relais_cli.plots import pyplot
from relais_runtime.links import LinkPurpose
from relais_runtime.settings import load_settings

TARGET_REQUESTS_PER_S = 500.0
TARGET_P99_MS = 25.0
TARGET_TRANSACTIONS_PER_VIEW = 1.0


def within_transactions_target(per_view: float) -> bool:
    """Judged as printed, to 2 decimals: PostgreSQL flushes its counters about once a second,
    so a few of the bench's own or the idle chat's commits land in either reading."""
    return round(per_view, 2) <= TARGET_TRANSACTIONS_PER_VIEW


@dataclass(frozen=True)
class PageResult:
    page: str
    load: LoadResult
    transactions: int
    idle_transactions: float
    """What the idle chat would have committed over the load's duration."""
    chat_cpu_s: float = 0.0
    """CPU time (user + system) of the chat process during the load."""

    @property
    def chat_cpu_ms_per_request(self) -> float:
        return 1000 * self.chat_cpu_s / max(1, self.load.requests)

    @property
    def per_view(self) -> float:
        return max(0.0, self.transactions - self.idle_transactions) / max(1, self.load.requests)

    @property
    def raw_per_view(self) -> float:
        return self.transactions / max(1, self.load.requests)


def bench_database_url(server_url: str, database: str) -> str:
    """The server's URL with another database name (the path after the last '/')."""
    base, _, _ = server_url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + database


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def transactions(server_url: str, database: str) -> int:
    connection = await asyncpg.connect(server_url)
    try:
        count: int = await connection.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
            database,
        )
    finally:
        await connection.close()
    return count


PUBLISH_DELAY_S = 11.0
"""PostgreSQL (15) publishes a busy backend's counters at most once a second, and an
idle one's within 10 s of its last transaction."""


@dataclass(frozen=True)
class Reading:
    transactions: int
    at: float
    """time.monotonic() of the reading."""


async def settled_transactions(server_url: str, database: str) -> Reading:
    """The counter once every backend has published what it committed until now."""
    started = time.monotonic()
    await asyncio.sleep(PUBLISH_DELAY_S)
    return Reading(await transactions(server_url, database), started)


@dataclass
class Chat:
    process: subprocess.Popen[bytes]
    port: int
    link_secret: str
    database_url: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_chat(database_url: str, *, unique: str, log_path: Path) -> Chat:
    """`relais run chat`, as production starts it, with this run's database and secret."""
    port, link_secret = free_port(), secrets.token_urlsafe(32)
    environment = {
        **os.environ,
        "RELAIS_DATABASE_URL": database_url,
        "RELAIS_HTTP_PORT": str(port),
        "RELAIS_CUSTOMER_LINK_SECRETS": link_secret,
        "RELAIS_CONSUMER_GROUP_PREFIX": f"bench-pages-{unique}.",
        "RELAIS_CONSUMER_NEW_GROUPS_START": "now",
        "RELAIS_MERCHANTS_DIR": os.environ.get("RELAIS_MERCHANTS_DIR")
        or str(REPO_ROOT / "deploy" / "merchants"),
        "RELAIS_LOG_LEVEL": "warning",
    }
    environment.setdefault("RELAIS_SESSION_SECRETS", secrets.token_urlsafe(32))
    environment.setdefault("RELAIS_OPT_OUT_PEPPER", secrets.token_urlsafe(32))
    for name in ("RELAIS_MAISON_LUMIERE_WEBHOOK_SECRET", "RELAIS_VELOCITY_SPORTS_WEBHOOK_SECRET"):
        environment.setdefault(name, secrets.token_urlsafe(32))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "relais_cli.main", "run", "chat"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    return Chat(process=process, port=port, link_secret=link_secret, database_url=database_url)


async def wait_ready(chat: Chat, log_path: Path) -> None:
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        for _ in range(1200):
            if chat.process.poll() is not None:
                raise RuntimeError(f"the chat exited during start-up: see {log_path}")
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the chat was not ready after 120 s: see {log_path}")


async def page_paths(chat: Chat, *, unique: str) -> dict[str, str]:
    """The signed chat and tracking links of a seeded shipment with an open anomaly."""
    settings = load_settings(
        ChatSettings, database_url=chat.database_url, customer_link_secrets=[chat.link_secret]
    )
    shipment_id = f"BENCH-PAGES-{unique}"
    anomaly_id = await _seed(settings, "chat", shipment_id)
    signer = make_signer([chat.link_secret])
    now = datetime.now(UTC)
    return {
        "chat /c/{token}": "/c/"
        + signer.sign(
            merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=anomaly_id, issued_at=now
        ),
        "tracking /t/{token}": "/t/"
        + signer.sign(
            merchant_id=MERCHANT, purpose=LinkPurpose.TRACKING, subject=shipment_id, issued_at=now
        ),
    }


async def warm_up(
    chat: Chat, path: str, *, tool: tuple[str, str], concurrency: int, requests: int = 50
) -> None:
    """A few checked requests, then a short load at the run's concurrency: the chat opens
    every connection the load needs (a new PostgreSQL connection commits transactions
    of its own: its start-up, its statements' preparation) before anything is counted."""
    async with httpx.AsyncClient(base_url=chat.base_url, timeout=30) as client:
        for _ in range(requests):
            (await client.get(path)).raise_for_status()
    await asyncio.to_thread(
        run_load, tool, chat.base_url + path, concurrency=concurrency, duration_s=2
    )


async def measure_pages(
    chat: Chat,
    paths: dict[str, str],
    *,
    server_url: str,
    database: str,
    tool: tuple[str, str],
    concurrency: int,
    duration_s: int,
) -> list[PageResult]:
    """Readings of the counter before, between and after the loads: the first interval,
    with no visitor, gives the idle chat's own rate (its background loops), which is
    taken off each load's interval."""
    for path in paths.values():
        await warm_up(chat, path, tool=tool, concurrency=concurrency)
    start = await settled_transactions(server_url, database)
    await asyncio.sleep(5)
    reading = await settled_transactions(server_url, database)
    idle = (reading.transactions - start.transactions) / (reading.at - start.at)
    results = []
    for page, path in paths.items():
        cpu_before = cpu_seconds(chat.process.pid)
        with console.status(f"{tool[0]}: {page}, {concurrency} connections, {duration_s} s"):
            load = await asyncio.to_thread(
                run_load,
                tool,
                chat.base_url + path,
                concurrency=concurrency,
                duration_s=duration_s,
            )
        chat_cpu_s = cpu_seconds(chat.process.pid) - cpu_before
        with console.status("waiting for PostgreSQL's counters"):
            after = await settled_transactions(server_url, database)
        results.append(
            PageResult(
                page,
                load,
                after.transactions - reading.transactions,
                idle * (after.at - reading.at),
                chat_cpu_s,
            )
        )
        reading = after
    return results


async def create_database(server_url: str, database: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


async def drop_database(server_url: str, database: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()


async def run_pages_bench(
    *, concurrency: int, duration_s: int, output: Path, install: bool
) -> None:
    tool = find_tool(install=install, say=console.print)
    server_url = load_settings(ChatSettings, customer_link_secrets=["x" * 32]).database_url
    unique = uuid.uuid4().hex[:8]
    database = f"relais_bench_pages_{unique}"
    log_path = output / "bench-pages-chat.log"
    await create_database(server_url, database)
    chat = start_chat(bench_database_url(server_url, database), unique=unique, log_path=log_path)
    try:
        with console.status("starting the chat (relais run chat)"):
            await wait_ready(chat, log_path)
        paths = await page_paths(chat, unique=unique)
        results = await measure_pages(
            chat,
            paths,
            server_url=server_url,
            database=database,
            tool=tool,
            concurrency=concurrency,
            duration_s=duration_s,
        )
        peak = peak_rss_mb(chat.process.pid)
    finally:
        await asyncio.to_thread(chat.stop)
        await drop_database(server_url, database)
    report(results, peak, concurrency=concurrency, duration_s=duration_s)
    write_artifacts(output, results, peak, concurrency=concurrency, duration_s=duration_s)


def report(
    results: list[PageResult], peak: float | None, *, concurrency: int, duration_s: int
) -> None:
    tool = results[0].load.tool if results else "?"
    table = Table(
        title=f"relais bench pages: one chat process, {tool}, {concurrency} connections, "
        f"{duration_s} s per page (CPU ms: the chat's, per request)"
    )
    columns = ("page", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "xact/view", "CPU ms")
    for column in columns:
        table.add_column(column, justify="left" if column == "page" else "right")
    for result in results:
        load = result.load
        table.add_row(
            result.page,
            f"{load.requests_per_s:,.0f} {verdict(load.requests_per_s >= TARGET_REQUESTS_PER_S)}",
            f"{load.p50_ms:.1f}",
            f"{load.p90_ms:.1f}",
            f"{load.p99_ms:.1f} {verdict(load.p99_ms <= TARGET_P99_MS)}",
            f"{load.errors:,}",
            f"{result.per_view:.2f} {verdict(within_transactions_target(result.per_view))}",
            f"{result.chat_cpu_ms_per_request:.2f}",
        )
    console.print(table)
    console.print(
        f"targets: >= {TARGET_REQUESTS_PER_S:,.0f} req/s, p99 <= {TARGET_P99_MS:.0f} ms, <= "
        f"{TARGET_TRANSACTIONS_PER_VIEW:.0f} database transaction per page view"
    )
    for result in results:
        console.print(
            f"{result.page}: {result.load.requests:,} requests, {result.transactions:,} "
            f"transactions ({result.raw_per_view:.2f}/view raw, of which "
            f"{result.idle_transactions:,.0f} the idle chat's own); the chat process used "
            f"{result.chat_cpu_s:.1f} s of CPU ({result.chat_cpu_ms_per_request:.2f} ms/request: "
            f"one core serves at most {1000 / max(result.chat_cpu_ms_per_request, 0.001):,.0f}"
            f" req/s), {result.load.tool} {result.load.tool_cpu_s:.1f} s "
            f"({100 * result.load.tool_cpu_s / duration_s:.0f} % of one core)"
        )
    console.print(memory_table({"chat": peak}, title="peak RSS of the chat process"))
    console.print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


def write_artifacts(
    output: Path,
    results: list[PageResult],
    peak: float | None,
    *,
    concurrency: int,
    duration_s: int,
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "bench": "pages",
        "concurrency": concurrency,
        "duration_s": duration_s,
        "targets": {
            "requests_per_s": TARGET_REQUESTS_PER_S,
            "p99_ms": TARGET_P99_MS,
            "transactions_per_view": TARGET_TRANSACTIONS_PER_VIEW,
            "peak_rss_mb": TARGET_PEAK_RSS_MB,
        },
        "pages": [
            {
                **asdict(r),
                "transactions_per_view": r.per_view,
                "raw_transactions_per_view": r.raw_per_view,
                "chat_cpu_ms_per_request": r.chat_cpu_ms_per_request,
            }
            for r in results
        ],
        "chat_peak_rss_mb": peak,
        "load_average": os.getloadavg(),
    }
    path = output / "bench-pages.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    console.print(f"figures written to {path}")
    plot(output / "bench-pages.png", results)


def plot(path: Path, results: list[PageResult]) -> None:
    plt = pyplot()
    figure, (rate, latency) = plt.subplots(1, 2, figsize=(10, 4.5))
    names = [r.page.split(" ")[0] for r in results]
    rate.bar(names, [r.load.requests_per_s for r in results], color="#4c72b0")
    rate.axhline(TARGET_REQUESTS_PER_S, color="red", linestyle="--", label="target")
    rate.set_ylabel("requests per second")
    rate.legend()
    width = 0.25
    for offset, name in enumerate(("p50_ms", "p90_ms", "p99_ms")):
        latency.bar(
            [i + (offset - 1) * width for i in range(len(results))],
            [getattr(r.load, name) for r in results],
            width=width,
            label=name.removesuffix("_ms"),
        )
    latency.axhline(TARGET_P99_MS, color="red", linestyle="--", label="p99 target")
    latency.set_xticks(range(len(results)), names)
    latency.set_ylabel("latency (ms)")
    latency.legend()
    figure.suptitle("relais bench pages: one chat process")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    console.print(f"plot written to {path}")


def pages(
    concurrency: Annotated[int, typer.Option(min=1, help="Connections kept busy.")] = 8,
    duration: Annotated[int, typer.Option(min=1, help="Seconds of load per page.")] = 15,
    output: Annotated[Path, typer.Option(help="Where the plot, JSON and log go.")] = Path(
        "artifacts"
    ),
    install: Annotated[
        bool, typer.Option(help="Install wrk (apt-get) or bombardier (go install) if missing.")
    ] = True,
) -> None:
    """Chat and tracking pages of one chat process under wrk: req/s, p50/p90/p99, DB
    transactions per page view, peak RSS, next to the targets.

    Needs the shared infrastructure (`relais infra up`); the chat gets a database of
    its own for the run (dropped at the end). Writes bench-pages.png and bench-pages.json.
    """
    try:
        run_bench(
            "pages",
            run_pages_bench(
                concurrency=concurrency, duration_s=duration, output=output, install=install
            ),
        )
    except (LoadToolMissing, RuntimeError) as error:
        console.print(f"[red]relais bench pages: {error}[/red]")
        raise typer.Exit(1) from None
