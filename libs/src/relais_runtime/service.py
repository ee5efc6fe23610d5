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
import gc
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar

import asyncpg
import uvloop
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter

from relais_runtime.clock import Clock
from relais_runtime.consumer import AnySubscription, RetryPolicy
from relais_runtime.db import create_pool, database_is_ready
from relais_runtime.http import build_http_app, make_server
from relais_runtime.kafka import kafka_is_ready, make_producer
from relais_runtime.kafka_security import kafka_security_options
from relais_runtime.logging import configure_logging, get_logger
from relais_runtime.migrations import migrate
from relais_runtime.offsets import start_new_groups_now
from relais_runtime.outbox import OutboxRelay
from relais_runtime.pipeline import Consumer, watch_lag
from relais_runtime.retention import RetentionPass, claim_retention
from relais_runtime.settings import RuntimeSettings
from relais_runtime.supervisor import Loop, Supervisor
from relais_runtime.tracing import configure_tracing, instrument_http

log = get_logger(__name__)


SettingsT = TypeVar("SettingsT", bound=RuntimeSettings)


@dataclass(frozen=True)
class Dependencies(Generic[SettingsT]):
    """What start-up builds and hands to a service's wiring function, its settings typed."""

    settings: SettingsT
    pool: asyncpg.Pool
    producer: AIOKafkaProducer


Background: TypeAlias = Loop | Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A supervised loop (named, with a heartbeat) or a bare loop function named after itself."""


@dataclass(frozen=True)
class Wiring:
    subscriptions: Sequence[AnySubscription] = ()
    routers: Sequence[APIRouter] = ()
    background: Sequence[Background] = ()
    clock: Clock | None = None
    """The clock due times are read on (subscriptions with `due_at`)."""
    closers: Sequence[Callable[[], Awaitable[None]]] = ()
    """Called once at stop, after every loop ended (clients the loops share)."""


def as_loop(job: Background) -> Loop:
    if isinstance(job, Loop):
        return job
    name = getattr(job, "__qualname__", None) or getattr(job, "__name__", None) or repr(job)
    return Loop(name=name.replace(".<locals>", ""), body=job)


def _nothing_to_wire(_dependencies: Dependencies[Any]) -> Wiring:
    return Wiring()


@dataclass(frozen=True)
class ServiceSpec(Generic[SettingsT]):
    """A service as the runtime runs it: `wire` receives the settings type it was written for."""

    name: str
    schema: str
    migrations_dir: Path
    wire: Callable[[Dependencies[SettingsT]], Wiring] = field(default=_nothing_to_wire)


def retry_policy(settings: RuntimeSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.consumer_max_attempts,
        backoff_initial_s=settings.consumer_backoff_initial_s,
        backoff_max_s=settings.consumer_backoff_max_s,
    )


class RunningService(Generic[SettingsT]):
    """A started service; `stop()` shuts it down in the documented order."""

    def __init__(self, spec: ServiceSpec[SettingsT], settings: SettingsT) -> None:
        self.spec = spec
        self.settings = settings
        self.stopping = asyncio.Event()
        self._relay_stopping = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self._closers: Sequence[Callable[[], Awaitable[None]]] = ()
        self.supervisor = Supervisor(service=spec.name)
        self.consumers: list[Consumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None
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
        self._producer = producer = make_producer(settings, client_id=f"relais-{spec.name}")
        await producer.start()
        wiring = spec.wire(Dependencies(settings=settings, pool=pool, producer=producer))
        self.consumers = self._consumers(wiring, pool, producer)
        self._closers = wiring.closers
        if settings.consumer_new_groups_start == "now":
            await start_new_groups_now(
                bootstrap=settings.kafka_bootstrap,
                groups=[(consumer.group, consumer.topic) for consumer in self.consumers],
                security=kafka_security_options(settings),
            )
        self._relay_task = self.supervisor.start(self._relay(pool, producer), self._relay_stopping)
        for loop in [*self._loops(wiring), self._retention(pool)]:
            self._tasks.append(self.supervisor.start(loop, self.stopping))
        await self._serve_http(wiring, pool, producer)
        log.info(
            "service started",
            http=f"{settings.http_host}:{settings.http_port}",
            subscriptions=[consumer.topic for consumer in self.consumers],
        )

    def _consumers(
        self, wiring: Wiring, pool: asyncpg.Pool, producer: AIOKafkaProducer
    ) -> list[Consumer]:
        """One pipeline consumer per subscription; group prefixes are added here, once."""
        settings = self.settings
        return [
            Consumer(
                subscription=replace(
                    subscription, group_id=settings.consumer_group_prefix + subscription.group_id
                ),
                pool=pool,
                producer=producer,
                retry=retry_policy(settings),
                bootstrap=settings.kafka_bootstrap,
                security=kafka_security_options(settings),
                clock=wiring.clock,
                supervisor=self.supervisor,
            )
            for subscription in wiring.subscriptions
        ]

    def _relay(self, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> Loop:
        """The outbox relay stops last: it publishes what the consumers committed."""
        settings = self.settings
        relay = OutboxRelay(
            pool=pool,
            producer=producer,
            schema=self.spec.schema,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
        return Loop("outbox-relay", relay.run, heartbeat_s=settings.loop_heartbeat_s)

    def _retention(self, pool: asyncpg.Pool) -> Loop:
        """Claims are kept per consumer group, as long as its topic keeps messages."""
        settings = self.settings
        claims = [
            kept
            for consumer in self.consumers
            if (kept := claim_retention(consumer.group, consumer.subscription.topic))
        ]
        retention = RetentionPass(
            pool=pool,
            claims=claims,
            outbox_retention_s=settings.outbox_retention_s,
            batch_size=settings.retention_batch_size,
            interval_s=settings.retention_interval_s,
        )
        return Loop("retention", retention.run)

    def _loops(self, wiring: Wiring) -> list[Loop]:
        settings = self.settings
        heartbeat = settings.loop_heartbeat_s
        loops = [
            Loop(consumer.name, consumer.run, heartbeat_s=heartbeat) for consumer in self.consumers
        ]
        loops += [as_loop(job) for job in wiring.background]
        loops.append(
            Loop(
                "consumer-lag",
                lambda stop: watch_lag(
                    self.consumers, stop=stop, interval_s=settings.consumer_lag_interval_s
                ),
            )
        )
        return loops

    async def _serve_http(
        self, wiring: Wiring, pool: asyncpg.Pool, producer: AIOKafkaProducer
    ) -> None:
        settings = self.settings
        app = build_http_app(
            service=self.spec.name,
            readiness={
                "kafka": lambda: kafka_is_ready(producer),
                "postgresql": lambda: database_is_ready(pool),
                "loops": self.supervisor.is_ready,
            },
            problems=self.supervisor.problems,
            routers=wiring.routers,
            max_body_bytes=settings.http_max_body_bytes,
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

    async def stop(self) -> None:
        self.stopping.set()
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):
                await self._server_task
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._relay_stopping.set()
        if self._relay_task is not None:
            await asyncio.gather(self._relay_task, return_exceptions=True)
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()
        if self._producer is not None:
            await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()
        log.info("service stopped")


def freeze_start_up_heap() -> None:
    """What start-up built (modules, pydantic schemas, the wiring: ~150 k objects) lives
    as long as the process, so it leaves the cyclic collector's generations: a full
    collection, which a batch of a thousand events triggers, then walks only what the
    batches made instead of the whole heap (about 80 ms each on this machine).
    For a service process only: in a process that starts services and then drops them
    (a test run), their frozen cycles would never be collected."""
    gc.collect()
    gc.freeze()


async def serve_until_signalled(spec: ServiceSpec[SettingsT], settings: SettingsT) -> None:
    configure_logging(service=spec.name, level=settings.log_level, fmt=settings.log_format)
    tracing = configure_tracing(service=spec.name, exporters=settings.otel_traces_exporter)
    service = RunningService(spec, settings)
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled.set)
    try:
        await service.start()
        freeze_start_up_heap()
        await signalled.wait()
        log.info("stop signal received, shutting down")
    finally:
        await service.stop()
        tracing.shutdown()


def run_service(spec: ServiceSpec[SettingsT], settings: SettingsT) -> None:
    run_event_loop(serve_until_signalled(spec, settings))


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a service process's main coroutine on uvloop: the same asyncio API, with its
    sockets, timers and callbacks in compiled code (a service spends a fifth to a third
    of its CPU there: Kafka, PostgreSQL and HTTP I/O)."""
    uvloop.run(main)
