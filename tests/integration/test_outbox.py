"""The transactional outbox against a real PostgreSQL and a real Kafka broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from aiokafka.partitioner import DefaultPartitioner

from relais_runtime.db import create_pool
from relais_runtime.kafka import make_producer
from relais_runtime.migrations import migrate
from relais_runtime.outbox import OutboxRelay, enqueue
from relais_runtime.settings import RuntimeSettings
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually, read_topic
from tests.integration.harness import MIGRATIONS, ParcelPinged, make_topic, ping


class SimulatedCrash(Exception):
    pass


async def test_relay_publishes_exactly_the_committed_rows_once_after_a_crash(
    infrastructure: Infrastructure, schema: str, new_topic: Callable[..., Any], unique: str
) -> None:
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    topic = make_topic(await new_topic(f"relais.test-outbox-{unique}.v1"))
    await migrate(database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS)
    pool = await create_pool(database_url=settings.database_url, schema=schema)
    committed = [ping(f"committed-{n}", shipment_id=f"shp-{n % 2}") for n in range(5)]
    rolled_back = [ping("rolled-back")]

    # The service writes its state and its events in one transaction, then "crashes"
    # before any relay ran: nothing has been published yet.
    async with pool.acquire() as connection, connection.transaction():
        await enqueue(connection, topic=topic, events=committed)
    try:
        async with pool.acquire() as connection, connection.transaction():
            await enqueue(connection, topic=topic, events=rolled_back)
            raise SimulatedCrash
    except SimulatedCrash:
        pass

    # After the restart, a new relay publishes what was committed.
    producer = make_producer(settings, client_id="test-outbox")
    await producer.start()
    relay = OutboxRelay(pool=pool, producer=producer, schema=schema, batch_size=3)
    try:
        published = [await relay.publish_pending() for _ in range(4)]
    finally:
        await producer.stop()
    unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    await pool.close()

    records = await read_topic(
        infrastructure.kafka_bootstrap,
        topic.name,
        until=lambda records: len(records) >= 6,
        timeout_s=8,
    )
    received = [ParcelPinged.model_validate_json(record.value) for record in records]
    assert published == [3, 2, 0, 0]
    assert unpublished == 0
    assert sorted(event.event_id for event in received) == sorted(e.event_id for e in committed)
    assert {record.key for record in records} == {b"acme/shp-0", b"acme/shp-1"}
    for record in records:
        headers = dict(record.headers)
        assert headers["event_type"] == b"ParcelPinged"


async def test_enqueue_refuses_an_event_of_another_topic(
    infrastructure: Infrastructure, schema: str
) -> None:
    from relais_contracts.topics import dead_letters

    await migrate(database_url=infrastructure.database_url, schema=schema, versions_dir=MIGRATIONS)
    pool = await create_pool(database_url=infrastructure.database_url, schema=schema)
    try:
        async with pool.acquire() as connection, connection.transaction():
            with pytest.raises(TypeError, match=r"not a message of topic relais\.dead-letters\.v1"):
                await enqueue(connection, topic=dead_letters.TOPIC, events=[ping("wrong")])
    finally:
        await pool.close()


async def test_relay_batches_keep_each_key_in_order_on_its_default_partition(
    infrastructure: Infrastructure, schema: str, new_topic: Callable[..., Any], unique: str
) -> None:
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    topic = make_topic(await new_topic(f"relais.test-outbox-order-{unique}.v1", partitions=3))
    await migrate(database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS)
    pool = await create_pool(database_url=settings.database_url, schema=schema)
    events = [ping(f"n-{n}", shipment_id=f"shp-{n % 7}") for n in range(600)]
    async with pool.acquire() as connection, connection.transaction():
        await enqueue(connection, topic=topic, events=events)
    producer = make_producer(settings, client_id="test-outbox-order")
    await producer.start()
    relay = OutboxRelay(pool=pool, producer=producer, schema=schema, batch_size=250)
    try:
        published = [await relay.publish_pending() for _ in range(4)]
    finally:
        await producer.stop()
        await pool.close()

    records = await read_topic(
        infrastructure.kafka_bootstrap, topic.name, until=lambda got: len(got) >= 600
    )
    assert published == [250, 250, 100, 0]
    assert len(records) == 600, "each row published exactly once"
    for record in records:
        assert record.key is not None
        assert record.partition == DefaultPartitioner()(record.key, [0, 1, 2], [0, 1, 2]), (
            "partitioned as every other Kafka client would"
        )
    by_key: dict[bytes, list[str]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        by_key.setdefault(record.key, []).append(
            ParcelPinged.model_validate_json(record.value or b"").note
        )
    for key, notes in by_key.items():
        expected = [e.note for e in events if e.partition_key() == key]
        assert notes == expected, f"{key!r} published in its outbox order"


async def test_a_row_too_large_for_kafka_is_set_aside_and_the_others_still_leave(
    infrastructure: Infrastructure, schema: str, new_topic: Callable[..., Any], unique: str
) -> None:
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    topic = make_topic(await new_topic(f"relais.test-outbox-bad-{unique}.v1"))
    await migrate(database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS)
    pool = await create_pool(database_url=settings.database_url, schema=schema)
    before, after, other = ping("before"), ping("after"), ping("other", shipment_id="shp-2")
    async with pool.acquire() as connection, connection.transaction():
        await enqueue(connection, topic=topic, events=[before])
        # A row no Kafka broker accepts (over its default 1 MiB message.max.bytes).
        huge_id = await connection.fetchval(
            "INSERT INTO outbox (event_id, topic, key, value) VALUES ($1, $2, $3, $4) RETURNING id",
            uuid4(),
            topic.name,
            b"acme/shp-1",
            b"x" * (3 * 1024 * 1024),
        )
        await enqueue(connection, topic=topic, events=[after, other])
    producer = make_producer(settings, client_id="test-outbox-bad")
    await producer.start()
    relay = OutboxRelay(pool=pool, producer=producer, schema=schema, poll_interval_s=0.05)
    stop = asyncio.Event()
    try:
        published = [await relay.publish_pending(), await relay.publish_pending()]
        assert set(relay.set_aside) == {huge_id}
        # The running relay skips it too and goes on with new rows.
        task = asyncio.create_task(relay.run(stop))
        later = ping("later", shipment_id="shp-2")
        async with pool.acquire() as connection, connection.transaction():
            await enqueue(connection, topic=topic, events=[later])

        async def drained() -> bool:
            left = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            return bool(left == 1)

        assert await eventually(drained, timeout_s=10, interval_s=0.05)
        assert not task.done(), "the relay keeps running"
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        unpublished = await pool.fetch("SELECT id FROM outbox WHERE published_at IS NULL")
    finally:
        stop.set()
        await producer.stop()
        await pool.close()

    records = await read_topic(
        infrastructure.kafka_bootstrap, topic.name, until=lambda got: len(got) >= 4, timeout_s=8
    )
    received = {ParcelPinged.model_validate_json(record.value).note for record in records}
    assert published == [3, 0]
    assert [row["id"] for row in unpublished] == [huge_id], "kept, never discarded"
    assert received == {"before", "after", "other", "later"}
