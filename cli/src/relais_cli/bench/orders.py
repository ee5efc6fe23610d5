"""`relais bench orders`: merchant orders through the tracker's order API, until stored.

A real tracker runs in its own process (spawned, production code paths, its uvicorn
server on a free port) on throw-away topics, schema and consumer groups, with one
bench merchant and a freshly generated API key. A load generator in another process
posts N orders (one parcel each, with a tracking number: the body of
relais_cli.demo.story.order_body, as the journey bench places them) over many
keep-alive connections written by plain asyncio streams (bench/sender.py's
connections), each connection sending its next request as soon as the previous one
is answered (closed loop: the figure is the API's capacity). `--per-request 1` posts
one order per request to POST /v1/orders; more posts that many per request to
POST /v1/orders/batch. `--processes N` runs N tracker processes (replicas: one consumer
group, each its own port; `relais run tracker` serves one uvicorn worker per process),
the connections spread evenly over them.

Figures, next to the target of 2,000 orders/s:
- orders accepted/s: orders answered 202, from the first request written to the last
  answer read;
- orders persisted/s: rows in the tracker's `shipments` table (sampled every 200 ms),
  from the first request written to the sample that saw the last one;
- p50/p99 latency of a request (written -> answer read);
- CPU of the tracker processes per order (user + system, /proc), from just before the
  load to the last order persisted, and of their PostgreSQL backends;
- each tracker process's peak RSS (bench/memory.py).
A JSON of the figures and a plot go under artifacts/ (unless --no-plot).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import queue
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from rich.table import Table

from relais_cli.bench.common import console, drop_schema, free_port, run_bench
from relais_cli.bench.floor import database_cpu_s, processes_cpu_s
from relais_cli.bench.memory import memory_table, peak_rss_mb
from relais_cli.bench.sender import Connection, Job, request_bytes
from relais_cli.bench.stats import Spread, verdict
from relais_cli.bench.tracker import create_topics, progress_bar, tracker_process
from relais_cli.demo.story import Merchant, order_body
from relais_cli.plots import pyplot
from relais_contracts.topics import carrier_updates, orders, shipment_state, tracking_events
from relais_runtime.api_keys import api_key_sha256
from relais_runtime.logging import configure_logging
from relais_runtime.settings import load_settings
from relais_tracker.settings import TrackerSettings

TARGET_ORDERS_PER_S = 2_000
MERCHANT = Merchant("bench-shop", "fr", "Europe/Paris", "EUR")
SINGLE_PATH = "/v1/orders"
BATCH_PATH = "/v1/orders/batch"


def order_request(run: str, index: int, now: datetime) -> dict[str, Any]:
    """One bench order: one parcel with a tracking number, shipped two hours ago."""
    order_id = f"OB{run}-{index:07d}"
    return order_body(
        merchant=MERCHANT,
        order_id=order_id,
        tracking_number=f"OB{run}{index:07d}".upper(),
        carrier_name="colissimo",
        sent_as="generic",
        shipped=now - timedelta(hours=2),
        promised_by=now + timedelta(days=5),
        city=("Lyon", "69003", "FR"),
        first_name="Bench",
        pickup=False,
        value="30.00",
    )


def jobs(*, run: str, count: int, per_request: int, api_key: str) -> list[Job]:
    """The requests: `count` orders, `per_request` per request (1: the single endpoint)."""
    now = datetime.now(UTC)
    headers = (("Authorization", f"Bearer {api_key}"), ("Content-Type", "application/json"))
    bodies = [order_request(run, index, now) for index in range(count)]
    if per_request <= 1:
        return [Job(0.0, SINGLE_PATH, _json(body), headers) for body in bodies]
    return [
        Job(0.0, BATCH_PATH, _json({"orders": bodies[start : start + per_request]}), headers)
        for start in range(0, count, per_request)
    ]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


async def send_closed_loop(
    *, host: str, ports: list[int], jobs: list[Job], connections: int, progress: Any
) -> list[tuple[float, float, int]]:
    """Each connection sends its next request once the previous one is answered;
    (written at, answered at, status) per job, wall-clock times. The connections are
    spread evenly over the `ports` (one per tracker process)."""
    results: list[tuple[float, float, int]] = [(0.0, 0.0, 0)] * len(jobs)
    pending = iter(range(len(jobs)))

    async def worker(port: int) -> None:
        authority = f"{host}:{port}"
        connection = Connection(host, port)
        try:
            for index in pending:
                data = request_bytes(authority, jobs[index])
                written = time.time()
                status = await connection.exchange(data)
                results[index] = (written, time.time(), status)
                with progress.get_lock():
                    progress.value += 1
        finally:
            await connection.close()

    await asyncio.gather(*(worker(ports[n % len(ports)]) for n in range(connections)))
    return results


def load_process(
    ports: list[int], jobs: list[Job], connections: int, progress: Any, results: Any
) -> None:
    """Entry of the load generator's process (spawned)."""
    sent = asyncio.run(
        send_closed_loop(
            host="127.0.0.1", ports=ports, jobs=jobs, connections=connections, progress=progress
        )
    )
    results.put(sent)


@dataclass
class Figures:
    orders: int
    per_request: int
    connections: int
    processes: int = 1
    requests: int = 0
    accepted_orders: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    accepted_per_s: float = float("nan")
    persisted: int = 0
    persisted_per_s: float = float("nan")
    latency_ms: dict[str, float] = field(default_factory=dict)
    tracker_cpu_us_per_order: float = float("nan")
    database_cpu_us_per_order: float = float("nan")
    peak_rss_mb: dict[str, float | None] = field(default_factory=dict)
    load: tuple[float, ...] = ()
    persisted_samples: list[tuple[float, int]] = field(default_factory=list)
    accepted_samples: list[tuple[float, int]] = field(default_factory=list)


def write_merchant(directory: Path) -> str:
    """The bench merchant with one freshly generated order API key; returns the key."""
    key = "rk_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
    config = {
        "merchant_id": MERCHANT.merchant_id,
        "branding": {"display_name": "Bench Shop"},
        "tracking": {"api_keys": [{"id": "bench", "sha256": api_key_sha256(key)}]},
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{MERCHANT.merchant_id}.yaml").write_text(yaml.safe_dump(config))
    return key


async def wait_healthy(port: int, *, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError("the tracker process did not become ready")


async def persisted_count(connection: asyncpg.Connection) -> int:
    count: int = await connection.fetchval("SELECT count(*) FROM shipments")
    return count


async def measure(
    settings: TrackerSettings, schema: str, requests: list[Job], figures: Figures
) -> None:
    """`figures.processes` tracker processes (replicas: one consumer group, each its own
    HTTP port), loaded together."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    ports = [settings.http_port, *(free_port() for _ in range(figures.processes - 1))]
    trackers = [
        context.Process(
            target=tracker_process,
            args=(settings.model_copy(update={"http_port": port}).model_dump_json(), schema, stop),
            daemon=True,
        )
        for port in ports
    ]
    try:
        for tracker, port in zip(trackers, ports, strict=True):
            tracker.start()  # one after the other: the first one migrates the schema
            await wait_healthy(port)
        pids = [tracker.pid for tracker in trackers if tracker.pid is not None]
        await _load(settings, schema, requests, figures, ports, pids, context)
        figures.peak_rss_mb = {
            f"tracker process {number}": peak_rss_mb(pid)
            for number, pid in enumerate(pids, start=1)
        }
    finally:
        stop.set()
        for tracker in trackers:
            if tracker.pid is not None:
                await asyncio.to_thread(tracker.join, 60)


async def _load(
    settings: TrackerSettings,
    schema: str,
    requests: list[Job],
    figures: Figures,
    ports: list[int],
    pids: list[int],
    context: Any,
) -> None:
    counter, results = context.Value("i", 0), context.Queue()
    loader = context.Process(
        target=load_process,
        args=(ports, requests, figures.connections, counter, results),
        daemon=True,
    )
    database = await asyncpg.connect(settings.database_url, server_settings={"search_path": schema})
    application = f"relais-{schema}"
    database_before = await database_cpu_s(settings.database_url, application)
    cpu_before, started = processes_cpu_s(pids), time.time()
    loader.start()
    sent: list[tuple[float, float, int]] | None = None
    persisted, deadline = 0, time.monotonic() + 1800
    with progress_bar() as bar:
        sent_task = bar.add_task("requests answered", total=len(requests))
        stored_task = bar.add_task("orders persisted", total=figures.orders)
        while (sent is None or persisted < figures.accepted_orders) and time.monotonic() < deadline:
            persisted = await persisted_count(database)
            now = time.time() - started
            figures.persisted_samples.append((now, persisted))
            figures.accepted_samples.append((now, counter.value * max(1, figures.per_request)))
            bar.update(sent_task, completed=counter.value)
            bar.update(stored_task, completed=persisted)
            if sent is None:
                sent = _results(results, loader)
                if sent is not None:
                    figures.accepted_orders = _accepted_orders(sent, figures)
            else:
                await asyncio.sleep(0.2)
    cpu_after = processes_cpu_s(pids)
    figures.tracker_cpu_us_per_order = (cpu_after - cpu_before) / max(1, persisted) * 1e6
    database_after = await database_cpu_s(settings.database_url, application)
    figures.database_cpu_us_per_order = (database_after - database_before) / max(1, persisted) * 1e6
    await database.close()
    loader.join(timeout=10)
    assert sent is not None
    _figures(figures, sent, started, persisted)


def _results(results: Any, loader: Any) -> list[tuple[float, float, int]] | None:
    try:
        sent: list[tuple[float, float, int]] = results.get(timeout=0.2)
        return sent
    except queue.Empty:
        if not loader.is_alive():
            raise RuntimeError("the load generator died") from None
        return None


def _accepted_orders(sent: list[tuple[float, float, int]], figures: Figures) -> int:
    per_request = max(1, figures.per_request)
    accepted = sum(1 for _, _, status in sent if status == 202) * per_request
    return min(accepted, figures.orders)


def _figures(
    figures: Figures, sent: list[tuple[float, float, int]], started: float, persisted: int
) -> None:
    first = min(written for written, _, _ in sent)
    last_answer = max(answered for _, answered, _ in sent)
    figures.requests = len(sent)
    figures.statuses = {}
    for _, _, status in sent:
        figures.statuses[str(status)] = figures.statuses.get(str(status), 0) + 1
    figures.accepted_per_s = figures.accepted_orders / max(1e-9, last_answer - first)
    figures.persisted = persisted
    done = next((t for t, n in figures.persisted_samples if n >= figures.accepted_orders), None)
    if done is not None and figures.accepted_orders:
        figures.persisted_per_s = figures.accepted_orders / max(1e-9, started + done - first)
    spread = Spread.of([(answered - written) * 1e3 for written, answered, _ in sent])
    figures.latency_ms = {
        "p50": spread.p50,
        "p90": spread.p90,
        "p99": spread.p99,
        "max": spread.max,
    }
    figures.load = os.getloadavg()


def report(figures: Figures) -> None:
    endpoint = SINGLE_PATH if figures.per_request <= 1 else BATCH_PATH
    table = Table(title=f"relais bench orders: {figures.orders:,} orders via POST {endpoint}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row(
        "orders per request / connections / tracker processes",
        f"{max(1, figures.per_request)} / {figures.connections} / {figures.processes}",
        "",
    )
    table.add_row(
        "requests / answers",
        f"{figures.requests:,}",
        ", ".join(f"{k}: {v:,}" for k, v in sorted(figures.statuses.items())),
    )
    met_api = figures.accepted_per_s >= TARGET_ORDERS_PER_S
    table.add_row(
        "orders accepted by the API (orders/s)",
        f"{figures.accepted_per_s:,.0f}",
        f">= {TARGET_ORDERS_PER_S:,} {verdict(met_api)}",
    )
    met = figures.persisted_per_s >= TARGET_ORDERS_PER_S
    table.add_row(
        "orders persisted, first request -> last row (orders/s)",
        f"{figures.persisted_per_s:,.0f}",
        f">= {TARGET_ORDERS_PER_S:,} {verdict(met)}",
    )
    table.add_row("shipments stored", f"{figures.persisted:,}", f"{figures.accepted_orders:,}")
    latency = figures.latency_ms
    table.add_row(
        "request latency p50 / p90 / p99 / max (ms)",
        " / ".join(f"{latency[name]:,.1f}" for name in ("p50", "p90", "p99", "max")),
        "",
    )
    table.add_row(
        "tracker processes' CPU per order (µs)", f"{figures.tracker_cpu_us_per_order:,.0f}", ""
    )
    table.add_row(
        "its PostgreSQL backends' CPU per order (µs)",
        f"{figures.database_cpu_us_per_order:,.0f}",
        "",
    )
    table.add_row("load average (1, 5, 15 min)", ", ".join(f"{v:.2f}" for v in figures.load), "")
    console.print(table)
    console.print(memory_table(figures.peak_rss_mb))


def write_artifacts(figures: Figures, plot_path: Path) -> None:
    plot_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = plot_path.with_suffix(".json")
    json_path.write_text(json.dumps(asdict(figures), indent=2) + "\n")
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for name, samples in (
        ("orders accepted (API)", figures.accepted_samples),
        ("orders persisted (shipments)", figures.persisted_samples),
    ):
        axis.plot([t for t, _ in samples], [n for _, n in samples], label=name)
    axis.set_xlabel("seconds since the load started")
    axis.set_ylabel("orders")
    axis.set_title(f"relais bench orders ({max(1, figures.per_request)} per request)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(plot_path)
    console.print(f"figures written to {json_path}, plot to {plot_path}")


async def clean_up(settings: TrackerSettings, topics: list[str], schema: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()
    await drop_schema(settings.database_url, schema)


async def run_orders_bench(
    *,
    count: int,
    per_request: int,
    connections: int,
    processes: int,
    plot_path: Path | None,
    keep: bool,
) -> None:
    unique = uuid.uuid4().hex[:8]
    configure_logging(service="orders-bench", level="warning", fmt="console")
    topics = {
        topic.name: f"relais.bench.{unique}.{topic.name}"
        for topic in (
            orders.TOPIC,
            carrier_updates.TOPIC,
            tracking_events.TOPIC,
            shipment_state.TOPIC,
        )
    }
    schema = f"bench_{unique}"
    with tempfile.TemporaryDirectory(prefix="relais-bench-orders-") as directory:
        api_key = write_merchant(Path(directory) / "merchants")
        settings = load_settings(TrackerSettings).model_copy(
            update={
                "http_port": free_port(),
                "consumer_group_prefix": f"bench-{unique}.",
                "topic_overrides": topics,
                "outbox_batch_size": 2000,
                "log_level": "warning",
                "merchants_dir": Path(directory) / "merchants",
            }
        )
        figures = Figures(
            orders=count, per_request=per_request, connections=connections, processes=processes
        )
        requests = jobs(run=unique[:4], count=count, per_request=per_request, api_key=api_key)
        await create_topics(settings.kafka_bootstrap, list(topics.values()))
        try:
            await measure(settings, schema, requests, figures)
        finally:
            if not keep:
                await clean_up(settings, list(topics.values()), schema)
    report(figures)
    if plot_path is not None:
        write_artifacts(figures, plot_path)


def orders_bench(
    count: Annotated[int, typer.Option("--orders", min=10, help="Orders to post.")] = 20_000,
    per_request: Annotated[
        int,
        typer.Option(
            min=1, max=1000, help="Orders per request: 1 = POST /v1/orders, more = /batch."
        ),
    ] = 100,
    connections: Annotated[
        int, typer.Option(min=1, max=512, help="Keep-alive connections of the load.")
    ] = 8,
    processes: Annotated[
        int, typer.Option(min=1, max=6, help="Tracker processes (replicas) sharing the load.")
    ] = 1,
    plot_path: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG (and a JSON beside it) here.")
    ] = Path("artifacts/bench-orders.png"),
    keep: Annotated[bool, typer.Option(help="Keep the bench topics and schema.")] = False,
) -> None:
    """Orders through the tracker's HTTP order API until stored: orders/s vs 2,000.

    Needs Kafka and PostgreSQL (`relais infra up`); configuration from RELAIS_* variables.
    """
    run_bench(
        "orders",
        run_orders_bench(
            count=count,
            per_request=per_request,
            connections=connections,
            processes=processes,
            plot_path=plot_path,
            keep=keep,
        ),
    )
