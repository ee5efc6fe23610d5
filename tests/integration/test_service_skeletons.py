"""Every service starts, migrates, serves its probes, consumes, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest

from relais_cli.run_cmd import ServiceName
from relais_contracts.topics import orders
from relais_runtime.kafka import make_producer, publish_events
from relais_runtime.service import RunningService
from relais_tracker.bootstrap import build_spec
from relais_tracker.settings import TrackerSettings
from tests.conftest import REPO_ROOT, Infrastructure, free_port
from tests.integration.conftest import eventually

SERVICES = tuple(service.value for service in ServiceName)


def example_order(*, order_id: str) -> orders.OrderPlaced:
    path = orders.TOPIC.examples_dir() / "OrderPlaced-home-colissimo.json"
    example = orders.TOPIC.decode(path.read_bytes())
    assert isinstance(example, orders.OrderPlaced)
    return example.model_copy(update={"event_id": uuid4(), "order_id": order_id})


async def test_tracker_consumes_an_order_published_by_the_real_producer(
    infrastructure: Infrastructure, schema: str, unique: str
) -> None:
    settings = TrackerSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        http_port=free_port(),
        consumer_group_prefix=f"test-{unique}.",
    )
    service = RunningService(replace(build_spec(), schema=schema), settings)
    placed = example_order(order_id=f"order-{unique}")
    cancelled = orders.OrderCancelled(
        occurred_at=placed.occurred_at + timedelta(hours=1),
        merchant_id=placed.merchant_id,
        correlation_id=placed.correlation_id,
        order_id=placed.order_id,
    )
    await service.start()
    try:
        base = f"http://127.0.0.1:{settings.http_port}"
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/health")).json()["status"] == "ok"
            ready = await client.get("/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"kafka": "ok", "postgresql": "ok", "loops": "ok"}

            producer = make_producer(settings, client_id="test-merchant")
            await producer.start()
            try:
                # The cancellation is published first: the order's placement, older,
                # must not overwrite it when it arrives after.
                await publish_events(producer, topic=orders.TOPIC.name, events=[cancelled])
                await publish_events(producer, topic=orders.TOPIC.name, events=[placed])
            finally:
                await producer.stop()

            async def stored() -> object:
                async with service_pool(settings, schema) as connection:
                    return await connection.fetchrow(
                        "SELECT state, order_number FROM orders WHERE order_id = $1",
                        placed.order_id,
                    )

            row = await eventually(stored)
            metrics = (await client.get("/metrics")).text
    finally:
        await service.stop()

    assert row is not None
    assert row["state"] == "cancelled"
    assert row["order_number"] is None or row["order_number"] == placed.order_number
    assert 'relais_messages_consumed_total{group="test-' in metrics


def service_pool(settings: TrackerSettings, schema: str):  # type: ignore[no-untyped-def]
    import asyncpg

    class _Connection:
        async def __aenter__(self) -> asyncpg.Connection:
            self.connection = await asyncpg.connect(
                settings.database_url, server_settings={"search_path": schema}
            )
            return self.connection

        async def __aexit__(self, *_: object) -> None:
            await self.connection.close()

    return _Connection()


@pytest.mark.parametrize("service", SERVICES)
async def test_service_process_starts_and_stops_cleanly_on_sigterm(
    infrastructure: Infrastructure, service: str, unique: str
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relais_cli.main",
        "run",
        service,
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "RELAIS_HTTP_PORT": str(port),
            "RELAIS_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
            "RELAIS_DATABASE_URL": infrastructure.database_url,
            "RELAIS_CONSUMER_GROUP_PREFIX": f"test-{unique}.",
            # test-only, generated; as a JSON list and comma-separated: both forms are read
            "RELAIS_CUSTOMER_LINK_SECRETS": json.dumps([secrets.token_urlsafe(32)]),
            "RELAIS_SESSION_SECRETS": f"{secrets.token_urlsafe(32)},{secrets.token_urlsafe(32)}",
            "RELAIS_OPT_OUT_PEPPER": secrets.token_urlsafe(32),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/ready")).status_code == 200
                except httpx.TransportError:
                    return process.returncode is not None

            assert await eventually(ready, timeout_s=60)
            assert process.returncode is None, "the service exited during start-up"
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, output.decode()
    assert '"event": "service stopped"' in output.decode()


async def test_bad_configuration_stops_start_up_naming_the_variable() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relais_cli.main",
        "run",
        "detector",
        cwd=REPO_ROOT,
        env={**os.environ, "RELAIS_HTTP_PORT": "not-a-port"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "RELAIS_HTTP_PORT" in stderr.decode()
    assert "valid integer" in stderr.decode()
