"""`relais bench chat`: the chat page's weight and the server's latency under load.

The real chat service runs in a child process (its own interpreter, production code
paths) on a throw-away schema, with the demo merchants and a generated link secret.
Its read model is seeded with one shipment, its carrier events and an anomaly; then
an httpx load generator in this process requests the signed chat page (conversation
resumed from PostgreSQL, scenario rendered) and the tracking page (which also records
a TrackingPageViewed, written to the outbox with the others every 0.25 s), with a fixed
concurrency, and prints the page weight (HTML + CSS + JS, raw and gzip) and the latency percentiles.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from rich.table import Table

from relais_chat import repository
from relais_chat.bootstrap import build_spec
from relais_chat.domain.access import make_signer
from relais_chat.settings import ChatSettings
from relais_cli.bench.common import console, drop_schema, free_port, run_bench
from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType, Severity
from relais_contracts.topics import shipment_state, tracking_events
from relais_contracts.topics.anomalies import AnomalyDetected, Evidence
from relais_runtime.links import LinkPurpose
from relais_runtime.logging import configure_logging
from relais_runtime.service import serve_until_signalled
from relais_runtime.settings import load_settings, secret_values

MERCHANT = "maison-lumiere"
REPO_ROOT = Path(__file__).resolve().parents[4]


def _serve(settings_json: str, schema: str) -> None:
    """The child process: the chat service until SIGTERM."""
    settings = ChatSettings.model_validate_json(settings_json)
    asyncio.run(serve_until_signalled(replace(build_spec(), schema=schema), settings))


async def _seed(settings: ChatSettings, schema: str, shipment_id: str) -> str:
    now = datetime.now(UTC)
    state = shipment_state.TOPIC.decode(
        (
            shipment_state.TOPIC.examples_dir()
            / "ShipmentStateChanged-colissimo-out-for-delivery.json"
        ).read_bytes()
    )
    assert isinstance(state, shipment_state.ShipmentStateChanged)
    state = state.model_copy(update={"merchant_id": MERCHANT, "shipment_id": shipment_id})
    example = tracking_events.TOPIC.decode(
        (
            tracking_events.TOPIC.examples_dir()
            / "TrackingEventRecorded-colissimo-out-for-delivery.json"
        ).read_bytes()
    )
    assert isinstance(example, tracking_events.TrackingEventRecorded)
    anomaly_id = ids.anomaly_id(MERCHANT, shipment_id, AnomalyType.FAILED_ATTEMPT.value)
    detected = AnomalyDetected(
        event_id=anomaly_id,
        occurred_at=now,
        merchant_id=MERCHANT,
        correlation_id=shipment_id,
        shipment_id=shipment_id,
        anomaly_id=anomaly_id,
        anomaly_type=AnomalyType.FAILED_ATTEMPT,
        severity=Severity.WARNING,
        evidence=Evidence(
            tracking_event_ids=(example.event_id,), status=state.status, substatus=state.substatus
        ),
        shipment=state.context(),
    )
    connection = await asyncpg.connect(
        settings.database_url, server_settings={"search_path": schema}
    )
    try:
        await repository.update_shipment(connection, state=state)
        for step in range(8):
            event = example.model_copy(
                update={
                    "event_id": uuid.uuid4(),
                    "merchant_id": MERCHANT,
                    "shipment_id": shipment_id,
                    "occurred_at": example.occurred_at - timedelta(hours=6 * step),
                }
            )
            await repository.create_tracking_event(connection, event=event)
        await repository.create_anomaly(connection, detected=detected)
    finally:
        await connection.close()
    return str(anomaly_id)


async def _wait_healthy(base_url: str, child: multiprocessing.process.BaseProcess) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(600):
            if not child.is_alive():
                raise RuntimeError("the chat exited during start-up")
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the chat did not become ready")


async def _load(
    base_url: str, path: str, *, requests: int, concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    remaining = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        for _ in range(min(20, requests)):  # warm-up, not counted
            (await client.get(path)).raise_for_status()

        async def worker() -> None:
            for _ in remaining:
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _weight(base_url: str, path: str) -> dict[str, tuple[int, int]]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        bodies = {
            "HTML (chat page)": (await client.get(path)).content,
            "CSS": (await client.get("/static/chat/chat.css")).content,
            "JS": (await client.get("/static/chat/chat.js")).content,
        }
    return {name: (len(body), len(gzip.compress(body, 6))) for name, body in bodies.items()}


async def _run(*, requests: int, concurrency: int) -> None:
    base = load_settings(ChatSettings, customer_link_secrets=[secrets.token_urlsafe(32)])
    unique = uuid.uuid4().hex[:8]
    schema = f"bench_chat_{unique}"
    port = free_port()
    settings = base.model_copy(
        update={
            "http_port": port,
            "consumer_group_prefix": f"bench-{unique}.",
            "merchants_dir": base.merchants_dir or REPO_ROOT / "deploy" / "merchants",
            "log_level": "warning",
            "database_pool_max": 10,
        }
    )
    base_url = f"http://127.0.0.1:{port}"
    child = multiprocessing.get_context("spawn").Process(
        target=_serve,
        args=(_settings_json(settings), schema),
    )
    child.start()
    try:
        await _wait_healthy(base_url, child)
        shipment_id = f"BENCH-{unique}"
        anomaly_id = await _seed(settings, schema, shipment_id)
        signer = make_signer(secret_values(settings.customer_link_secrets))
        now = datetime.now(UTC)
        chat_path = "/c/" + signer.sign(
            merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=anomaly_id, issued_at=now
        )
        tracking_path = "/t/" + signer.sign(
            merchant_id=MERCHANT, purpose=LinkPurpose.TRACKING, subject=shipment_id, issued_at=now
        )
        weight = await _weight(base_url, chat_path)
        results = {
            "chat page GET /c/{token}": await _load(
                base_url, chat_path, requests=requests, concurrency=concurrency
            ),
            "tracking page GET /t/{token}": await _load(
                base_url, tracking_path, requests=requests, concurrency=concurrency
            ),
        }
    finally:
        if child.pid is not None and child.is_alive():
            os.kill(child.pid, signal.SIGTERM)
        child.join(timeout=30)
        await drop_schema(settings.database_url, schema)
    _report(weight, results, requests=requests, concurrency=concurrency)


def _settings_json(settings: ChatSettings) -> str:
    data: dict[str, Any] = settings.model_dump(mode="json")
    data["customer_link_secrets"] = secret_values(settings.customer_link_secrets)
    return json.dumps(data)


def _report(
    weight: dict[str, tuple[int, int]],
    results: dict[str, tuple[list[float], float]],
    *,
    requests: int,
    concurrency: int,
) -> None:
    table = Table(title="chat page weight")
    for column in ("resource", "bytes", "gzip bytes"):
        table.add_column(column, justify="right" if column != "resource" else "left")
    for name, (raw, packed) in weight.items():
        table.add_row(name, f"{raw:,}", f"{packed:,}")
    table.add_row(
        "total",
        f"{sum(w[0] for w in weight.values()):,}",
        f"{sum(w[1] for w in weight.values()):,}",
    )
    console.print(table)
    table = Table(title=f"server latency: {requests} requests, {concurrency} concurrent (ms)")
    for column in ("page", "p50", "p90", "p99", "max", "mean", "req/s"):
        table.add_column(column, justify="right" if column != "page" else "left")
    for name, (latencies, elapsed) in results.items():
        ms = [value * 1000 for value in latencies]
        table.add_row(
            name,
            f"{_percentile(ms, 0.50):.1f}",
            f"{_percentile(ms, 0.90):.1f}",
            f"{_percentile(ms, 0.99):.1f}",
            f"{max(ms):.1f}",
            f"{statistics.fmean(ms):.1f}",
            f"{len(ms) / elapsed:,.0f}",
        )
    console.print(table)


def chat(
    requests: Annotated[int, typer.Option(min=50, help="Requests per page.")] = 2000,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight.")] = 8,
) -> None:
    """Chat page weight (HTML + CSS + JS) and server latency p50/p90/p99 under load.

    Needs Kafka and PostgreSQL (`relais infra up`); configuration from RELAIS_*
    variables (a link secret is generated for the run).
    """
    configure_logging(service="chat-bench", level="warning", fmt="console")
    run_bench("chat", _run(requests=requests, concurrency=concurrency))
