"""The consumer policy against a real Kafka broker and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from relais_contracts.envelope import Event
from relais_contracts.topics import dead_letters
from relais_runtime.consumer import (
    BatchSubscription,
    Handler,
    MessageContext,
    NotYetError,
    Prepared,
    RetryPolicy,
    Subscription,
    TransientError,
)
from relais_runtime.db import DbConnection, create_pool
from relais_runtime.kafka import make_producer
from relais_runtime.migrations import migrate
from relais_runtime.pipeline import Consumer
from relais_runtime.settings import RuntimeSettings
from relais_runtime.supervisor import Supervisor
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually, read_to_end, read_topic
from tests.integration.harness import (
    MIGRATIONS,
    ParcelPinged,
    make_topic,
    ping,
    running_consumer,
)

FAST_RETRY = RetryPolicy(max_attempts=4, backoff_initial_s=0.05, backoff_max_s=0.2)


@dataclass(frozen=True)
class PolicyBench:
    """A fresh one-partition topic, a consumer group, and a way to run a handler on them."""

    topic_name: str
    group: str
    schema: str
    start: Callable[[Handler], AbstractAsyncContextManager[asyncpg.Pool]]


@pytest.fixture
async def bench(
    infrastructure: Infrastructure, schema: str, new_topic: Callable[..., Any], unique: str
) -> PolicyBench:
    name = await new_topic(f"relais.test-policy-{unique}.v1", partitions=1)
    group = f"test-{unique}"
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )

    def start(handler: Handler) -> AbstractAsyncContextManager[asyncpg.Pool]:
        subscription = Subscription(topic=make_topic(name), group_id=group, handler=handler)
        return running_consumer(
            settings=settings, schema=schema, subscription=subscription, retry=FAST_RETRY
        )

    return PolicyBench(topic_name=name, group=group, schema=schema, start=start)


async def record_event(event: Event, context: MessageContext) -> None:
    assert isinstance(event, ParcelPinged)
    await context.connection.execute(
        "INSERT INTO handled (event_id, note, attempt) VALUES ($1, $2, $3)",
        event.event_id,
        event.note,
        context.attempt,
    )


async def handled_notes(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT note FROM handled ORDER BY note")
    return [row["note"] for row in rows]


async def dead_letters_from(
    infrastructure: Infrastructure, source_topic: str, *, count: int
) -> list[dead_letters.MessageDeadLettered]:
    def decoded(records: Any) -> list[dead_letters.MessageDeadLettered]:
        letters = [dead_letters.TOPIC.decode(record.value) for record in records]
        return [
            letter
            for letter in letters
            if isinstance(letter, dead_letters.MessageDeadLettered)
            and letter.source_topic == source_topic
        ]

    records = await read_topic(
        infrastructure.kafka_bootstrap,
        dead_letters.TOPIC.name,
        until=lambda records: len(decoded(records)) >= count,
    )
    return decoded(records)


async def test_bad_messages_are_dead_lettered_and_the_consumer_keeps_going(
    infrastructure: Infrastructure, bench: PolicyBench, producer: Any
) -> None:
    name = bench.topic_name
    schema_invalid = json.loads(ping("x").model_dump_json())
    schema_invalid["note"] = "far too long for the twenty character limit"
    unknown_type = {**json.loads(ping("y").model_dump_json()), "event_type": "ParcelExploded"}

    async with bench.start(record_event) as pool:
        for value in (
            ping("before").model_dump_json().encode(),
            b"{not json at all",
            json.dumps(schema_invalid).encode(),
            json.dumps(unknown_type).encode(),
            ping("after").model_dump_json().encode(),
        ):
            await producer.send_and_wait(name, value=value, key=b"shp-1")

        assert await eventually(lambda: _has_notes(pool, ["after", "before"]))
        letters = await dead_letters_from(infrastructure, name, count=3)

    kinds = {letter.reason.kind: letter for letter in letters}
    assert set(kinds) == {"undecodable", "invalid", "unknown_event_type"}
    assert kinds["undecodable"].original_value() == b"{not json at all"
    assert kinds["undecodable"].source_offset == 1
    assert kinds["invalid"].source_offset == 2
    assert "note" in kinds["invalid"].reason.message
    assert json.loads(kinds["invalid"].original_value()) == schema_invalid
    assert all(letter.source_partition == 0 for letter in letters)
    assert all(letter.consumer_group == bench.group for letter in letters)
    assert all(letter.source_key() == b"shp-1" for letter in letters)


async def _has_notes(pool: asyncpg.Pool, notes: list[str]) -> bool:
    return await handled_notes(pool) == notes


async def test_transient_failures_are_retried_and_the_effect_happens_once(
    infrastructure: Infrastructure, bench: PolicyBench, producer: Any
) -> None:
    name = bench.topic_name
    calls: list[int] = []

    async def flaky(event: Event, context: MessageContext) -> None:
        calls.append(context.attempt)
        await record_event(event, context)
        assert isinstance(event, ParcelPinged)
        if event.note == "flaky" and context.attempt < 3:
            raise TransientError("merchant database briefly unavailable")

    event = ping("flaky")
    async with bench.start(flaky) as pool:
        await producer.send_and_wait(name, value=event.model_dump_json().encode(), key=b"shp-1")
        # The same event delivered again (a producer retry or a replay) has no second effect.
        await producer.send_and_wait(name, value=event.model_dump_json().encode(), key=b"shp-1")
        assert await eventually(lambda: _has_notes(pool, ["flaky"]))
        sentinel = ping("sentinel")
        await producer.send_and_wait(name, value=sentinel.model_dump_json().encode(), key=b"shp-1")
        assert await eventually(lambda: _has_notes(pool, ["flaky", "sentinel"]))
        rows = await pool.fetch("SELECT attempt FROM handled WHERE note = 'flaky'")

    assert [row["attempt"] for row in rows] == [3]
    assert calls == [1, 2, 3, 1]


async def test_a_dependency_outage_pauses_the_consumer_and_never_dead_letters(
    infrastructure: Infrastructure, bench: PolicyBench, producer: Any
) -> None:
    name = bench.topic_name
    outage_ends = asyncio.get_running_loop().time() + 2.0
    supervisor = Supervisor(service="test")
    seen_waiting: list[dict[str, str]] = []

    async def down_for_two_seconds(event: Event, context: MessageContext) -> None:
        if asyncio.get_running_loop().time() < outage_ends:
            raise TransientError("the merchant database is down")
        await record_event(event, context)

    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    subscription = Subscription(
        topic=make_topic(name), group_id=bench.group, handler=down_for_two_seconds
    )
    async with running_consumer(
        settings=settings,
        schema=bench.schema,
        subscription=subscription,
        retry=FAST_RETRY,
        supervisor=supervisor,
    ) as pool:
        for note in ("one", "two"):
            await producer.send_and_wait(name, value=ping(note).model_dump_json().encode())

        async def waiting() -> bool:
            seen_waiting.append(supervisor.problems())
            return any("waiting" in problem for problem in seen_waiting[-1].values())

        assert await eventually(waiting, timeout_s=20, interval_s=0.05)
        assert await eventually(lambda: _has_notes(pool, ["one", "two"]), timeout_s=30)
        assert supervisor.problems() == {}, "ready again once the dependency is back"
    assert await _committed(infrastructure, bench.group, name) == 2
    assert await _letters_for(infrastructure, name) == [], "an outage dead-letters nothing"


async def test_a_message_waiting_for_another_is_dead_lettered_after_its_attempts(
    infrastructure: Infrastructure, bench: PolicyBench, producer: Any
) -> None:
    name = bench.topic_name

    async def snapshot_never_arrives(event: Event, context: MessageContext) -> None:
        assert isinstance(event, ParcelPinged)
        if event.note == "orphan":
            raise NotYetError("the shipment's snapshot has not arrived")
        await record_event(event, context)

    async with bench.start(snapshot_never_arrives) as pool:
        for note in ("orphan", "after"):
            await producer.send_and_wait(name, value=ping(note).model_dump_json().encode())
        letters = await dead_letters_from(infrastructure, name, count=1)
        assert await eventually(lambda: _has_notes(pool, ["after"]))

    assert len(letters) == 1
    assert letters[0].reason.kind == "dependency_missing"
    assert letters[0].reason.attempts == FAST_RETRY.max_attempts
    assert "snapshot has not arrived" in letters[0].reason.message


async def test_a_replay_reaches_only_the_group_it_is_for(
    infrastructure: Infrastructure, bench: PolicyBench, producer: Any
) -> None:
    name = bench.topic_name
    async with bench.start(record_event) as pool:
        for note, group in (("other", "someone-else"), ("mine", bench.group)):
            await producer.send_and_wait(
                name,
                value=ping(note).model_dump_json().encode(),
                headers=[("relais-replay-for", group.encode())],
            )
        await producer.send_and_wait(name, value=ping("plain").model_dump_json().encode())
        assert await eventually(lambda: _has_notes(pool, ["mine", "plain"]))
    assert await _committed(infrastructure, bench.group, name) == 3


async def _letters_for(infrastructure: Infrastructure, source_topic: str) -> list[Any]:
    records = await read_to_end(infrastructure.kafka_bootstrap, dead_letters.TOPIC.name)
    letters = [dead_letters.TOPIC.decode(record.value) for record in records]
    return [
        letter
        for letter in letters
        if isinstance(letter, dead_letters.MessageDeadLettered)
        and letter.source_topic == source_topic
    ]


async def test_stopping_finishes_the_message_in_hand_and_commits_its_offset(
    infrastructure: Infrastructure, schema: str, bench: PolicyBench, producer: Any
) -> None:
    name = bench.topic_name
    started = asyncio.Event()

    async def slow(event: Event, context: MessageContext) -> None:
        started.set()
        await asyncio.sleep(1.5)
        await record_event(event, context)

    async with bench.start(slow):
        await producer.send_and_wait(name, value=ping("in-hand").model_dump_json().encode())
        await asyncio.wait_for(started.wait(), timeout=30)
        # Leaving the block stops the broker while the handler is still sleeping.
    connection = await asyncpg.connect(
        infrastructure.database_url, server_settings={"search_path": schema}
    )
    try:
        notes = [row["note"] for row in await connection.fetch("SELECT note FROM handled")]
    finally:
        await connection.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(bench.group)
    finally:
        await admin.close()
    assert notes == ["in-hand"]
    assert offsets[TopicPartition(name, 0)].offset == 1


async def test_a_tombstone_reaches_the_erasure_hook_and_is_never_dead_lettered(
    infrastructure: Infrastructure, schema: str, bench: PolicyBench, producer: Any
) -> None:
    erased: list[bytes] = []

    async def erase(key: bytes, context: MessageContext) -> None:
        erased.append(key)
        await context.connection.execute("DELETE FROM handled WHERE note = $1", key.decode())

    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    subscription = Subscription(
        topic=make_topic(bench.topic_name),
        group_id=bench.group,
        handler=record_event,
        on_tombstone=erase,
    )
    async with running_consumer(
        settings=settings, schema=schema, subscription=subscription, retry=FAST_RETRY
    ) as pool:
        for value, key in ((ping("shp-7"), b"shp-7"), (None, b"shp-7"), (ping("after"), b"x")):
            encoded = value.model_dump_json().encode() if value else None
            await producer.send_and_wait(bench.topic_name, value=encoded, key=key)
        assert await eventually(lambda: _has_notes(pool, ["after"]))
    assert erased == [b"shp-7"]


# -- batch subscriptions ----------------------------------------------------------------


async def record_batch(batch: Sequence[Prepared], connection: DbConnection) -> None:
    rows = []
    for item in batch:
        assert isinstance(item.event, ParcelPinged)
        if item.event.note == "poison":
            raise ValueError("this one can never be handled")
        rows.append((item.event.event_id, item.event.note))
    await connection.executemany(
        "INSERT INTO handled (event_id, note, attempt) VALUES ($1, $2, 1)", rows
    )


@asynccontextmanager
async def batch_consumer(
    infrastructure: Infrastructure, schema: str, topic_name: str, group: str
) -> AsyncIterator[tuple[Consumer, asyncpg.Pool]]:
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    await migrate(database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS)
    pool = await create_pool(database_url=settings.database_url, schema=schema)
    producer = make_producer(settings, client_id="test-batch-dlq")
    await producer.start()
    consumer = Consumer(
        subscription=BatchSubscription(
            topic=make_topic(topic_name), group_id=group, handler=record_batch, max_records=100
        ),
        pool=pool,
        producer=producer,
        retry=FAST_RETRY,
        bootstrap=settings.kafka_bootstrap,
    )
    try:
        yield consumer, pool
    finally:
        await producer.stop()
        await pool.close()


async def test_batch_mode_dead_letters_bad_messages_of_a_batch_and_handles_the_rest(
    infrastructure: Infrastructure, schema: str, bench: PolicyBench, producer: Any
) -> None:
    name = bench.topic_name
    values = [
        ping("before").model_dump_json().encode(),
        b"{not json at all",
        ping("poison").model_dump_json().encode(),
        ping("after").model_dump_json().encode(),
    ]
    for value in values:
        await producer.send(name, value=value, key=b"shp-1")
    await producer.flush()

    async with batch_consumer(infrastructure, schema, name, bench.group) as (consumer, pool):
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(stop))
        try:
            assert await eventually(lambda: _has_notes(pool, ["after", "before"]))
            letters = await dead_letters_from(infrastructure, name, count=2)
        finally:
            stop.set()
            await running

    kinds = {letter.reason.kind: letter for letter in letters}
    assert set(kinds) == {"undecodable", "handler_failed"}
    assert kinds["undecodable"].source_offset == 1
    assert kinds["handler_failed"].source_offset == 2
    assert "can never be handled" in kinds["handler_failed"].reason.message
    assert all(letter.consumer_group == bench.group for letter in letters)
    committed = await _committed(infrastructure, bench.group, name)
    assert committed == len(values), "the whole batch is committed once handled"


async def test_batch_mode_a_redelivered_batch_has_no_second_effect(
    infrastructure: Infrastructure, schema: str, bench: PolicyBench, producer: Any
) -> None:
    name = bench.topic_name
    first, second = ping("first"), ping("second")
    for event in (first, second, first):
        await producer.send(name, value=event.model_dump_json().encode(), key=b"shp-1")
    await producer.flush()
    records = await read_topic(
        infrastructure.kafka_bootstrap, name, until=lambda got: len(got) >= 3
    )

    async with batch_consumer(infrastructure, schema, name, bench.group) as (consumer, pool):
        delivered = await consumer.process(records)
        redelivered = await consumer.process(records)
        notes = await handled_notes(pool)

    assert delivered == {"processed": 2, "duplicate": 1}
    assert redelivered == {"duplicate": 3}
    assert notes == ["first", "second"]


async def _committed(infrastructure: Infrastructure, group: str, topic: str) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(topic, 0))
    return None if found is None else found.offset
