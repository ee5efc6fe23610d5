"""relais_consumer_lag on a real broker: the backlog while a handler is stuck, then zero."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY

from relais_contracts.envelope import Event
from relais_runtime.consumer import MessageContext, RetryPolicy, Subscription
from relais_runtime.db import create_pool
from relais_runtime.kafka import make_producer, publish_events
from relais_runtime.migrations import migrate
from relais_runtime.pipeline import Consumer
from relais_runtime.settings import RuntimeSettings
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually
from tests.integration.harness import MIGRATIONS, make_topic, ping


def lag(*, group: str, topic: str) -> float | None:
    return REGISTRY.get_sample_value(
        "relais_consumer_lag", {"group": group, "topic": topic, "partition": "0"}
    )


async def test_lag_counts_the_backlog_then_drops_to_zero_and_is_forgotten_on_stop(
    infrastructure: Infrastructure, schema: str, new_topic: Callable[..., Any], unique: str
) -> None:
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    topic = make_topic(await new_topic(f"relais.test-lag-{unique}.v1", partitions=1))
    group = f"test-{unique}"
    release = asyncio.Event()
    started = asyncio.Event()

    async def stuck_until_released(_event: Event, _context: MessageContext) -> None:
        started.set()
        await release.wait()

    await migrate(database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS)
    pool = await create_pool(database_url=settings.database_url, schema=schema)
    producer = make_producer(settings, client_id=f"test-lag-{unique}")
    consumer = Consumer(
        subscription=Subscription(topic=topic, group_id=group, handler=stuck_until_released),
        pool=pool,
        producer=producer,
        retry=RetryPolicy(),
        bootstrap=settings.kafka_bootstrap,
    )
    stop = asyncio.Event()
    await producer.start()
    running = asyncio.create_task(consumer.run(stop))
    try:
        await publish_events(
            producer,
            topic=topic.name,
            events=[ping(f"n{n}", shipment_id="shp-1") for n in range(5)],
        )
        await asyncio.wait_for(started.wait(), timeout=20)

        async def backlog_seen() -> bool:
            await consumer.record_lag()
            return lag(group=group, topic=topic.name) == 5

        # Nothing is committed while the first message is in hand: all five are behind.
        assert await eventually(backlog_seen, timeout_s=10)

        release.set()

        async def caught_up() -> bool:
            await consumer.record_lag()
            return lag(group=group, topic=topic.name) == 0

        assert await eventually(caught_up, timeout_s=20)
    finally:
        release.set()
        stop.set()
        await running
        await producer.stop()
        await pool.close()

    # A member that no longer owns the partition stops reporting it.
    await consumer.record_lag()
    assert lag(group=group, topic=topic.name) is None
