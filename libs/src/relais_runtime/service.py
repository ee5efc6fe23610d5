"""The lifecycle every service shares: start, serve, stop cleanly on SIGTERM.

Start: logging, PostgreSQL pool on the service's schema, migrations, Kafka
producer, outbox relay, consumers, HTTP server. Stop (SIGTERM or SIGINT): the
HTTP server stops accepting, the consumers finish the message in hand and commit
its offset, the outbox relay publishes what is committed, the producer flushes,
the pool closes. A service is described by a `ServiceSpec`; its entrypoint builds
one from its Settings and hands it to `run_service`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter
from faststream.kafka import KafkaBroker

from relais_runtime.consumer import ReliableConsumer, RetryPolicy, Subscription, watch_lag
from relais_runtime.db import create_pool, database_is_ready
from relais_runtime.http import build_http_app, make_server
from relais_runtime.kafka import kafka_is_ready, make_producer
from relais_runtime.logging import configure_logging, get_logger
from relais_runtime.migrations import migrate
from relais_runtime.offsets import start_new_groups_now
from relais_runtime.outbox import OutboxRelay
from relais_runtime.settings import RuntimeSettings
from relais_runtime.tracing import configure_tracing, instrument_http

log = get_logger(__name__)


@dataclass(frozen=True)
class Dependencies:
    """What start-up builds and hands to a service's wiring function."""

    settings: RuntimeSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer


@dataclass(frozen=True)
class Wiring:
    subscriptions: Sequence[Subscription] = ()
    routers: Sequence[APIRouter] = ()
    background: Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = ()


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    schema: str
    migrations_dir: Path
    wire: Callable[[Dependencies], Wiring] = field(default=lambda _deps: Wiring())


def retry_policy(settings: RuntimeSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.consumer_max_attempts,
        backoff_initial_s=settings.consumer_backoff_initial_s,
        backoff_max_s=settings.consumer_backoff_max_s,
    )


def make_broker(settings: RuntimeSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.kafka_linger_ms,
        graceful_timeout=settings.shutdown_grace_s,
        apply_types=True,
        logger=get_logger("faststream"),
        log_level=logging.DEBUG,
    )


class RunningService:
    """A started service; `stop()` shuts it down in the documented order."""

    def __init__(self, spec: ServiceSpec, settings: RuntimeSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None
        self._broker: KafkaBroker | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._server: object | None = None

    async def start(self) -> None:
        settings, spec = self.settings, self.spec
        await migrate(
            database_url=settings.database_url, schema=spec.schema, versions_dir=spec.migrations_dir
        )
        self._pool = pool = await create_pool(
            database_url=settings.database_url,
            schema=spec.schema,
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
        )
        client_id = f"relais-{spec.name}"
        self._producer = producer = make_producer(settings, client_id=client_id)
        await producer.start()
        wiring = spec.wire(Dependencies(settings=settings, pool=pool, producer=producer))
        relay = OutboxRelay(
            pool=pool,
            producer=producer,
            schema=spec.schema,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
        self._tasks.append(asyncio.create_task(relay.run(self.stopping), name="outbox-relay"))
        for job in wiring.background:
            self._tasks.append(asyncio.create_task(job(self.stopping)))
        self._broker = broker = make_broker(settings, client_id=client_id)
        consumers = [
            ReliableConsumer(
                subscription=replace(
                    subscription, group_id=settings.consumer_group_prefix + subscription.group_id
                ),
                pool=pool,
                producer=producer,
                retry=retry_policy(settings),
            )
            for subscription in wiring.subscriptions
        ]
        if settings.consumer_new_groups_start == "now":
            await start_new_groups_now(
                bootstrap=settings.kafka_bootstrap,
                groups=[(c.group, c.subscription.topic.name) for c in consumers],
            )
        for consumer in consumers:
            consumer.register(broker)
        await broker.start()
        self._tasks.append(
            asyncio.create_task(
                watch_lag(
                    consumers, stop=self.stopping, interval_s=settings.consumer_lag_interval_s
                ),
                name="consumer-lag",
            )
        )
        app = build_http_app(
            service=spec.name,
            readiness={
                "kafka": lambda: kafka_is_ready(producer),
                "postgresql": lambda: database_is_ready(pool),
            },
            routers=wiring.routers,
        )
        instrument_http(app)
        server = make_server(app, host=settings.http_host, port=settings.http_port)
        self._server = server
        self._server_task = asyncio.create_task(server.serve(), name="http")
        while not server.started:
            if self._server_task.done():
                self._server_task.result()
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.02)
        log.info(
            "service started",
            http=f"{settings.http_host}:{settings.http_port}",
            subscriptions=[s.topic.name for s in wiring.subscriptions],
        )

    async def stop(self) -> None:
        self.stopping.set()
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):
                await self._server_task
        if self._broker is not None:
            await self._broker.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()
        log.info("service stopped")


async def serve_until_signalled(spec: ServiceSpec, settings: RuntimeSettings) -> None:
    configure_logging(service=spec.name, level=settings.log_level, fmt=settings.log_format)
    tracing = configure_tracing(service=spec.name, exporters=settings.otel_traces_exporter)
    service = RunningService(spec, settings)
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled.set)
    try:
        await service.start()
        await signalled.wait()
        log.info("stop signal received, shutting down")
    finally:
        await service.stop()
        tracing.shutdown()


def run_service(spec: ServiceSpec, settings: RuntimeSettings) -> None:
    asyncio.run(serve_until_signalled(spec, settings))
