"""`relais bench office`: the back office's orders pages at a million shipments.

A throw-away insights schema is migrated and filled by COPY (bench.office_data: N
shipments over 10 merchants, ~8 timeline entries each), then ANALYZEd. The insights
routes run under uvicorn in a child process (its own interpreter, the production code
path: FastAPI, the pool, the office's session check, jinja2), and this process times
real HTTP requests one after the other against the largest merchant: the first list
page, a filter by anomaly type and carrier, searches by email and by tracking number,
page 50 reached through the cursor, and the order page with its timeline. It prints
p50/p95/p99 next to the targets and writes a plot. Figures, not assertions: the machine
the bench runs on (shared or not) belongs next to them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import os
import secrets
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import asyncpg
import httpx
import typer
import yaml
from argon2 import PasswordHasher
from rich.table import Table

from relais_cli.bench.common import console, drop_schema, free_port, run_bench
from relais_cli.bench.office_data import fill, merchant_ids
from relais_cli.plots import pyplot
from relais_insights.bootstrap import MIGRATIONS_DIR
from relais_insights.domain.office import Role
from relais_insights.service import office_users
from relais_insights.settings import InsightsSettings
from relais_runtime.logging import configure_logging
from relais_runtime.migrations import migrate
from relais_runtime.settings import load_settings, secret_values

REPO_ROOT = Path(__file__).resolve().parents[4]
SOURCE_MERCHANT = REPO_ROOT / "deploy" / "merchants" / "maison-lumiere.yaml"
TARGETS_MS = {"list": 100.0, "timeline": 50.0}


def _serve(settings_json: str, schema: str, port: int) -> None:
    """The child process: the insights routes under uvicorn until SIGTERM."""
    import uvicorn
    from fastapi import FastAPI

    from relais_insights.bootstrap import configure
    from relais_insights.handlers.routes import build_router
    from relais_insights.service.application import Insights
    from relais_runtime.db import create_pool

    settings = InsightsSettings.model_validate_json(settings_json)

    async def main() -> None:
        pool = await create_pool(database_url=settings.database_url, schema=schema)
        app = FastAPI()
        app.include_router(build_router(Insights(configuration=configure(settings), pool=pool)))
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        await uvicorn.Server(config).serve()

    asyncio.run(main())


def write_merchants(directory: Path, key: str) -> None:
    """The bench's 10 merchants, each with `key` hashed as a `backoffice` key."""
    for merchant_id in merchant_ids():
        config: dict[str, Any] = yaml.safe_load(SOURCE_MERCHANT.read_text())
        config["merchant_id"] = merchant_id
        digest = hashlib.sha256(f"{key}-{merchant_id}".encode()).hexdigest()
        config["tracking"] = {
            "api_keys": [{"id": "bench", "sha256": digest, "scopes": ["backoffice"]}]
        }
        (directory / f"{merchant_id}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))


@dataclass
class Bench:
    settings: InsightsSettings
    schema: str
    port: int
    merchant_id: str
    key: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self.settings.database_url, server_settings={"search_path": self.schema}
        )


async def _sign_in(bench: Bench, client: httpx.AsyncClient) -> None:
    password = secrets.token_urlsafe(16)
    connection = await bench.connect()
    try:
        await office_users.add_user(
            connection,
            PasswordHasher(),
            merchant_id=bench.merchant_id,
            email="bench@example.com",
            display_name="Bench",
            role=Role.VIEWER,
            language="en",
            password=password,
            at=datetime.now(UTC),
        )
    finally:
        await connection.close()
    answer = await client.post(
        f"/office/{bench.merchant_id}/login",
        data={"email": "bench@example.com", "password": password},
    )
    if answer.status_code != 303:
        raise RuntimeError(f"the bench user could not sign in: {answer.status_code}")


async def _samples(bench: Bench, count: int) -> dict[str, list[str]]:
    """Random emails, tracking numbers and order numbers of the measured merchant."""
    connection = await bench.connect()
    try:
        rows = await connection.fetch(
            "SELECT customer_email, tracking_number, order_number FROM office_shipments"
            " TABLESAMPLE SYSTEM (5) WHERE merchant_id = $1 LIMIT $2",
            bench.merchant_id,
            count,
        )
    finally:
        await connection.close()
    return {
        "email": [row["customer_email"] for row in rows],
        "tracking": [row["tracking_number"] for row in rows],
        "order": [row["order_number"] for row in rows],
    }


async def _page_50_cursor(client: httpx.AsyncClient, bench: Bench) -> str:
    """Walk 49 pages through the API's next cursors (the page accepts the same cursor)."""
    cursor = None
    for _ in range(49):
        answer = await client.get(
            f"/v1/office/{bench.merchant_id}/shipments",
            params={"cursor": cursor} if cursor else {},
            headers={"Authorization": f"Bearer {bench.key}-{bench.merchant_id}"},
        )
        answer.raise_for_status()
        cursor = answer.json()["next_cursor"]
    if cursor is None:
        raise RuntimeError("fewer than 50 pages: give more shipments")
    return str(cursor)


async def _time(
    client: httpx.AsyncClient, paths: Callable[[int], str], requests: int
) -> list[float]:
    for n in range(min(10, requests)):  # warm-up, not counted
        (await client.get(paths(n))).raise_for_status()
    timings = []
    for n in range(requests):
        started = time.perf_counter()
        answer = await client.get(paths(n))
        timings.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return timings


async def _measure(bench: Bench, requests: int) -> dict[str, tuple[str, list[float]]]:
    base = f"/office/{bench.merchant_id}/orders"
    combos = [("delivery_late", "colissimo"), ("stalled", "dhl"), ("failed_attempt", "ups"),
              ("pickup_ready", "mondial_relay"), ("lost", "gls")]  # fmt: skip
    async with httpx.AsyncClient(base_url=bench.base_url, timeout=60) as client:
        await _sign_in(bench, client)
        samples = await _samples(bench, requests + 10)
        cursor = await _page_50_cursor(client, bench)
        cases: dict[str, tuple[str, Callable[[int], str]]] = {
            "list, first page": ("list", lambda n: base),
            "list, anomaly type + carrier": (
                "list",
                lambda n: f"{base}?anomaly={combos[n % 5][0]}&carrier={combos[n % 5][1]}",
            ),
            "search by email": ("list", lambda n: f"{base}?q={samples['email'][n]}"),
            "search by tracking number": ("list", lambda n: f"{base}?q={samples['tracking'][n]}"),
            "page 50 by cursor": ("list", lambda n: f"{base}?cursor={cursor}"),
            "order timeline page": (
                "timeline",
                lambda n: f"{base}/{quote(samples['order'][n], safe='')}",
            ),
        }
        results = {}
        for name, (target, paths) in cases.items():
            console.print(f"measuring {name}…")
            results[name] = (target, await _time(client, paths, requests))
    return results


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _report(results: dict[str, tuple[str, list[float]]], *, shipments: int, entries: int) -> None:
    table = Table(
        title=f"back office pages over HTTP, {shipments:,} shipments, {entries:,} timeline "
        f"entries, largest of 10 merchants (ms, one request at a time)"
    )
    for column in ("query", "p50", "p95", "p99", "max", "target p95", ""):
        table.add_column(column, justify="left" if column == "query" else "right")
    for name, (target, timings) in results.items():
        p95 = _percentile(timings, 0.95)
        goal = TARGETS_MS[target]
        table.add_row(
            name,
            f"{_percentile(timings, 0.50):.1f}",
            f"{p95:.1f}",
            f"{_percentile(timings, 0.99):.1f}",
            f"{max(timings):.1f}",
            f"≤ {goal:.0f}",
            "[green]met[/green]" if p95 <= goal else "[red]missed[/red]",
        )
    console.print(table)


def _plot(path: Path, results: dict[str, tuple[str, list[float]]], *, shipments: int) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 4.5))
    names = list(results)
    for offset, (label, fraction) in enumerate((("p50", 0.5), ("p95", 0.95), ("p99", 0.99))):
        values = [_percentile(results[name][1], fraction) for name in names]
        axes.bar([i + (offset - 1) * 0.27 for i in range(len(names))], values, 0.27, label=label)
    for target, goal in TARGETS_MS.items():
        axes.axhline(goal, linestyle="--", linewidth=1, color="grey")
        axes.text(len(names) - 0.5, goal, f" {target} target p95 {goal:.0f} ms", va="bottom")
    axes.set_xticks(range(len(names)), names, rotation=20, ha="right")
    axes.set_ylabel("ms")
    axes.set_title(f"relais bench office: {shipments:,} shipments")
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    console.print(f"plot written to {path}")


async def _wait_ready(bench: Bench, child: multiprocessing.process.BaseProcess) -> None:
    async with httpx.AsyncClient(base_url=bench.base_url) as client:
        for _ in range(600):
            if not child.is_alive():
                raise RuntimeError("the insights routes exited during start-up")
            try:
                await client.get("/static/insights/insights.css")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("the insights routes did not start")


def _settings_json(settings: InsightsSettings) -> str:
    data: dict[str, Any] = settings.model_dump(mode="json")
    data["session_secrets"] = secret_values(settings.session_secrets)
    return json.dumps(data)


async def _run(*, shipments: int, requests: int, plot_path: Path, keep: bool) -> None:
    unique = uuid.uuid4().hex[:8]
    directory = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-office-{unique}"  # noqa: S108
    directory.mkdir(parents=True)
    key = "rk_bench_" + secrets.token_urlsafe(24)
    write_merchants(directory, key)
    base = load_settings(InsightsSettings, session_secrets=[secrets.token_urlsafe(32)])
    settings = base.model_copy(update={"merchants_dir": directory, "log_level": "warning"})
    bench = Bench(settings, f"bench_office_{unique}", free_port(), merchant_ids()[0], key)
    await migrate(
        database_url=settings.database_url, schema=bench.schema, versions_dir=MIGRATIONS_DIR
    )
    try:
        connection = await bench.connect()
        try:
            started = time.perf_counter()
            entries = await fill(connection, shipments=shipments, now=datetime.now(UTC))
            console.print(f"filled in {time.perf_counter() - started:.0f} s")
        finally:
            await connection.close()
        child = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(_settings_json(settings), bench.schema, bench.port)
        )
        child.start()
        try:
            await _wait_ready(bench, child)
            results = await _measure(bench, requests)
        finally:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)
            child.join(timeout=30)
    finally:
        if not keep:
            await drop_schema(settings.database_url, bench.schema)
    _report(results, shipments=shipments, entries=entries)
    _plot(plot_path, results, shipments=shipments)


def office(
    shipments: Annotated[int, typer.Option(min=3000, help="Shipments to load.")] = 1_000_000,
    requests: Annotated[int, typer.Option(min=20, help="Requests per query.")] = 200,
    plot_path: Annotated[
        Path, typer.Option("--plot", help="Where to write the latency plot (PNG).")
    ] = Path("artifacts/bench-office.png"),
    keep: Annotated[bool, typer.Option(help="Keep the bench schema.")] = False,
) -> None:
    """Back-office orders pages at scale: list, filters, searches, page 50, order timeline.

    Needs PostgreSQL (`relais infra up`); configuration from RELAIS_* variables (a
    session secret is generated for the run). Prints p50/p95/p99 per query next to the
    targets (list ≤ 100 ms p95, timeline ≤ 50 ms p95) and writes a plot.
    """
    configure_logging(service="office-bench", level="warning", fmt="console")
    run_bench(
        "office", _run(shipments=shipments, requests=requests, plot_path=plot_path, keep=keep)
    )
