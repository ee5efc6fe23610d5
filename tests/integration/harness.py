"""A test event, a test topic and a consumer harness around the real runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import asyncpg
from aiokafka import AIOKafkaProducer
from pydantic import Field

from relais_contracts.envelope import Event
from relais_contracts.registry import Service, Topic
from relais_runtime.consumer import AnySubscription, RetryPolicy
from relais_runtime.db import create_pool
from relais_runtime.kafka import make_producer
from relais_runtime.migrations import migrate
from relais_runtime.pipeline import Consumer
from relais_runtime.settings import RuntimeSettings
from relais_runtime.supervisor import Loop, Supervisor

MIGRATIONS = Path(__file__).parent / "migrations"


class ParcelPinged(Event):
    event_type: Literal["ParcelPinged"] = "ParcelPinged"
    schema_version: Literal[1] = 1
    shipment_id: str
    note: str = Field(max_length=20)


def ping(note: str, *, shipment_id: str = "shp-1") -> ParcelPinged:
    return ParcelPinged(
        occurred_at=datetime.now(UTC),
        merchant_id="acme",
        correlation_id=shipment_id,
        shipment_id=shipment_id,
        note=note,
    )


def make_topic(name: str) -> Topic:
    return Topic(
        name=name,
        description="integration test topic",
        key="shipment id",
        message_types=(ParcelPinged,),
        producers=(Service.ANY,),
        consumers=(Service.ANY,),
        partitions=3,
    )


@asynccontextmanager
async def running_consumer(
    *,
    settings: RuntimeSettings,
    schema: str,
    subscription: AnySubscription,
    retry: RetryPolicy,
    supervisor: Supervisor | None = None,
    pool: asyncpg.Pool | None = None,
) -> AsyncIterator[asyncpg.Pool]:
    """Migrate the schema, run one pipeline consumer under a supervisor; yield the pool.
    Leaving the block stops the consumer the way a service stops it (stop event)."""
    await migrate(database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS)
    own_pool = pool is None
    pool = pool or await create_pool(database_url=settings.database_url, schema=schema)
    producer: AIOKafkaProducer = make_producer(settings, client_id="test-dlq")
    supervisor = supervisor or Supervisor(service="test")
    consumer = Consumer(
        subscription=subscription,
        pool=pool,
        producer=producer,
        retry=retry,
        bootstrap=settings.kafka_bootstrap,
        supervisor=supervisor,
    )
    stop = asyncio.Event()
    try:
        await producer.start()
        task = supervisor.start(Loop(consumer.name, consumer.run), stop)
        try:
            yield pool
        finally:
            stop.set()
            await task
    finally:
        await producer.stop()
        if own_pool:
            await pool.close()
