"""The Kafka side of `relais dead-letters`: read the dead-letter topic, publish replays.

Reading never joins a consumer group: every partition is assigned by hand, read from the
beginning (or from the first record at `--since`, less a margin) up to the end offsets
captured when the read starts, then the consumer closes. Nothing is committed, so
listing moves nobody's offsets and letters arriving meanwhile wait for the next run.

Replays are published with acks=all and idempotence, on the partition Kafka's default
partitioner picks for the original key (where the original went, unless the topic has
grown since), in the order given.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from relais_cli.dead_letters import DeadLetter, Filters, ReplayRecord, SourceKey, parse_letter
from relais_contracts.topics import dead_letters
from relais_runtime.kafka import default_partitioner

DEAD_LETTER_TOPIC = dead_letters.TOPIC.name
READ_TIMEOUT_S = 120.0
SINCE_MARGIN = timedelta(minutes=10)
"""Seek this much before `--since` by record timestamp: a letter's record is stamped when
it is published, just after its `occurred_at`, but clocks of different hosts drift."""


class DeadLetterError(Exception):
    """Something the operator must hear about in one line (broker, topic, timeout)."""


def _unreachable(bootstrap: str, error: KafkaError) -> str:
    return (
        f"Kafka at {bootstrap} does not answer ({type(error).__name__}): check "
        "RELAIS_KAFKA_BOOTSTRAP or --bootstrap (locally: `relais infra up`)"
    )


@dataclass
class Reading:
    """What one pass over the dead-letter topic found."""

    letters: list[DeadLetter] = field(default_factory=list)
    scanned: int = 0
    unreadable: int = 0


@asynccontextmanager
async def _reading(
    bootstrap: str, what: str, timeout_s: float, security: Mapping[str, Any] | None = None
) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of no group (nothing committed), closed afterwards; Kafka errors and
    the time limit become DeadLetterError."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="relais-dead-letters",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(security or {}),
    )
    try:
        await consumer.start()
    except KafkaError as error:
        await consumer.stop()
        raise DeadLetterError(_unreachable(bootstrap, error)) from None
    try:
        async with asyncio.timeout(timeout_s):
            yield consumer
    except TimeoutError:
        raise DeadLetterError(
            f"reading {what} on {bootstrap} took longer than {timeout_s:.0f} s"
        ) from None
    except KafkaError as error:
        raise DeadLetterError(f"reading {what} on {bootstrap}: {error}") from None
    finally:
        await consumer.stop()


async def read_letters(
    bootstrap: str,
    filters: Filters,
    *,
    topic: str = DEAD_LETTER_TOPIC,
    timeout_s: float = READ_TIMEOUT_S,
    security: Mapping[str, Any] | None = None,
) -> Reading:
    """Every letter on `topic` up to its current end that `filters` match."""
    async with _reading(bootstrap, topic, timeout_s, security) as consumer:
        return await _read(consumer, topic, filters)


async def _read(consumer: AIOKafkaConsumer, topic: str, filters: Filters) -> Reading:
    # The consumer's own metadata only covers assigned topics: ask the cluster.
    metadata = await consumer._client.fetch_all_metadata()
    partitions = metadata.partitions_for_topic(topic)
    if not partitions:
        raise DeadLetterError(f"no topic {topic} on the broker: run `relais topics apply`")
    assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
    consumer.assign(assigned)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(assigned)
    starts: dict[TopicPartition, int] = await consumer.beginning_offsets(assigned)
    if filters.since is not None:
        at_ms = int((filters.since - SINCE_MARGIN).timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(assigned, max(at_ms, 0)))
        for partition, offset_and_time in found.items():
            starts[partition] = (
                ends[partition] if offset_and_time is None else offset_and_time.offset
            )
    reading = Reading()
    async for record in _records(consumer, starts, ends):
        reading.scanned += 1
        try:
            letter = parse_letter(record.value, partition=record.partition, offset=record.offset)
        except ValueError:
            reading.unreadable += 1
            continue
        if filters.matches(letter):
            reading.letters.append(letter)
    return reading


async def _records(
    consumer: AIOKafkaConsumer,
    starts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """The records of the assigned partitions from `starts` up to (not including) `ends`."""
    assigned = consumer.assignment()
    pending: set[TopicPartition] = set()
    for partition in assigned:
        if starts[partition] < ends[partition]:
            consumer.seek(partition, starts[partition])
            pending.add(partition)
    if assigned - pending:
        consumer.pause(*(assigned - pending))
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=500, max_records=5000)
        for partition, records in batches.items():
            for record in records:
                if record.offset >= ends[partition]:
                    break
                yield record
        for partition in list(pending):
            if await consumer.position(partition) >= ends[partition]:
                pending.discard(partition)
                consumer.pause(partition)


async def later_offsets(
    bootstrap: str,
    letters: Sequence[DeadLetter],
    *,
    timeout_s: float = READ_TIMEOUT_S,
    security: Mapping[str, Any] | None = None,
) -> dict[SourceKey, int]:
    """The last offset of each letter's key on the letter's source partition, looking
    from the first record after the earliest letter's (up to the end captured now). A
    letter is superseded when its key's last offset is above its own
    (dead_letters.replay_hazard, for compacted source topics)."""
    wanted: dict[TopicPartition, tuple[int, set[bytes]]] = {}
    for letter in letters:
        key = letter.key()
        if key is None:
            continue
        partition = TopicPartition(letter.source_topic, letter.source_partition)
        first, keys = wanted.get(partition, (letter.source_offset + 1, set()))
        keys.add(key)
        wanted[partition] = (min(first, letter.source_offset + 1), keys)
    if not wanted:
        return {}
    found: dict[SourceKey, int] = {}
    async with _reading(bootstrap, "the source topics", timeout_s, security) as consumer:
        consumer.assign(list(wanted))
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(wanted))
        starts = {partition: first for partition, (first, _) in wanted.items()}
        async for record in _records(consumer, starts, ends):
            partition = TopicPartition(record.topic, record.partition)
            if record.key is not None and record.key in wanted[partition][1]:
                found[(record.topic, record.partition, record.key)] = record.offset
    return found


@dataclass(frozen=True)
class Replayed:
    record: ReplayRecord
    partition: int
    offset: int


async def publish_replays(
    bootstrap: str,
    records: Sequence[ReplayRecord],
    *,
    timeout_s: float = 60.0,
    security: Mapping[str, Any] | None = None,
) -> list[Replayed]:
    """Publish every record (acks=all, idempotent) and return once Kafka has them all.
    Checks first that every source topic exists: nothing is published otherwise."""
    if not records:
        return []
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="relais-dead-letters-replay",
        enable_idempotence=True,
        acks="all",
        partitioner=default_partitioner,
        **(security or {}),
    )
    try:
        await producer.start()
    except KafkaError as error:
        await producer.stop()
        raise DeadLetterError(_unreachable(bootstrap, error)) from None
    try:
        metadata = await producer.client.fetch_all_metadata()
        missing = sorted({record.topic for record in records} - set(metadata.topics()))
        if missing:
            raise DeadLetterError(
                f"source topic(s) missing on the broker: {', '.join(missing)}; nothing replayed"
            )
        deadline = time.monotonic() + timeout_s
        futures = [
            await producer.send(
                record.topic, value=record.value, key=record.key, headers=list(record.headers)
            )
            for record in records
        ]
        results = await asyncio.wait_for(
            asyncio.gather(*futures), timeout=max(deadline - time.monotonic(), 1.0)
        )
    except TimeoutError:
        raise DeadLetterError(
            f"Kafka at {bootstrap} did not acknowledge the replays within {timeout_s:.0f} s; "
            "some may have been published (replaying again is harmless)"
        ) from None
    except KafkaError as error:
        raise DeadLetterError(
            f"publishing replays on {bootstrap}: {error}; some may have been published "
            "(replaying again is harmless)"
        ) from None
    finally:
        await producer.stop()
    return [
        Replayed(record=record, partition=metadata_.partition, offset=metadata_.offset)
        for record, metadata_ in zip(records, results, strict=True)
    ]
