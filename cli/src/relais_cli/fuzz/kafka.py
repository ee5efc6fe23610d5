"""Malformed messages on every consumed topic, then one valid sentinel per topic, and
what the consumers made of them.

Rules:
- every consumer group of a topic must dead-letter every malformed message of that
  topic, with a reason: a letter is matched by (consumer group, source topic,
  partition, offset) on relais.dead-letters.v1;
- a sentinel is processed by a group when the group committed past its offset and did
  not dead-letter it;
- the run waits until every expected letter is there and every group committed up to
  the end of its topic, or until the timeout; what is still missing then is reported;
- dead letters of anything else the run produced (orders the HTTP fuzzing got
  accepted, carrier updates, the sentinels' consequences) are listed too: a message
  accepted at the edge and refused downstream is a finding.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from relais_cli.fuzz.messages import FuzzMessage
from relais_contracts.topics import dead_letters
from relais_runtime.kafka import default_partitioner

DEAD_LETTER_TOPIC = dead_letters.TOPIC.name
Position = tuple[str, int, int]
"""(topic, partition, offset)."""


@dataclass(frozen=True)
class Published:
    message: FuzzMessage
    partition: int
    offset: int

    @property
    def position(self) -> Position:
        return (self.message.topic, self.partition, self.offset)


@dataclass(frozen=True)
class Letter:
    group: str
    position: Position
    kind: str
    reason: str


@dataclass
class GroupResult:
    """What one consumer group did with one topic's messages."""

    service: str
    group: str
    topic: str
    expected: int = 0
    dead_lettered: int = 0
    without_reason: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    """Letters by reason kind (a plain dict: dataclasses.asdict mangles a Counter)."""
    sentinel: str = "none"
    """processed, dead_lettered: <reason>, pending, or none (topic without sentinel)."""
    caught_up: bool = False
    """Committed up to the end offsets of its topic."""

    @property
    def ok(self) -> bool:
        return (
            self.dead_lettered == self.expected
            and self.without_reason == 0
            and self.caught_up
            and self.sentinel in ("processed", "none")
        )

    @property
    def settled(self) -> bool:
        """Nothing more to wait for (whether it went well or not)."""
        return self.dead_lettered == self.expected and self.caught_up and self.sentinel != "pending"


async def _partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of `topics`, from the cluster (a consumer of no group only knows
    the topics it was assigned: ask the cluster, as relais dead-letters does)."""
    metadata = await consumer._client.fetch_all_metadata()
    return [
        TopicPartition(topic, partition)
        for topic in dict.fromkeys(topics)
        for partition in sorted(metadata.partitions_for_topic(topic) or ())
    ]


async def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topics)
        if not partitions:
            return {}
        found: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return found
    finally:
        await consumer.stop()


def total(offsets: Mapping[TopicPartition, int], topic: str) -> int:
    return sum(offset for partition, offset in offsets.items() if partition.topic == topic)


async def publish(bootstrap: str, messages: Sequence[FuzzMessage]) -> list[Published]:
    """Send the messages in order (acks=all) and return where each one landed."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="relais-fuzz",
        acks="all",
        enable_idempotence=True,
        partitioner=default_partitioner,
        max_request_size=2 * 1024 * 1024,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(message.topic, value=message.value, key=message.key)
            for message in messages
        ]
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [
        Published(message=message, partition=meta.partition, offset=meta.offset)
        for message, meta in zip(messages, metadata, strict=True)
    ]


async def committed(bootstrap: str, groups: Iterable[str]) -> dict[tuple[str, TopicPartition], int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found: dict[tuple[str, TopicPartition], int] = {}
        for group in dict.fromkeys(groups):
            offsets = await admin.list_consumer_group_offsets(group)
            for partition, meta in offsets.items():
                if meta is not None and meta.offset >= 0:
                    found[(group, partition)] = meta.offset
        return found
    finally:
        await admin.close()


class LetterReader:
    """Reads relais.dead-letters.v1 from given offsets, incrementally."""

    def __init__(self, bootstrap: str, start: Mapping[TopicPartition, int]) -> None:
        self._bootstrap = bootstrap
        self._start = dict(start)
        self._consumer: AIOKafkaConsumer | None = None
        self.letters: list[Letter] = []
        self.undecodable = 0

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[LetterReader]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        self._consumer = consumer
        try:
            partitions = await _partitions(consumer, [DEAD_LETTER_TOPIC])
            consumer.assign(partitions)
            for partition in partitions:
                consumer.seek(partition, self._start.get(partition, 0))
            yield self
        finally:
            self._consumer = None
            await consumer.stop()

    async def poll(self, *, timeout_ms: int = 500) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        for records in batches.values():
            for record in records:
                try:
                    event = dead_letters.TOPIC.decode(record.value or b"")
                except Exception:
                    self.undecodable += 1
                    continue
                assert isinstance(event, dead_letters.MessageDeadLettered)
                self.letters.append(
                    Letter(
                        group=event.consumer_group,
                        position=(event.source_topic, event.source_partition, event.source_offset),
                        kind=event.reason.kind,
                        reason=event.reason.message,
                    )
                )


def group_results(
    consumers: Sequence[tuple[str, str, str]],
    *,
    malformed: Sequence[Published],
    sentinels: Sequence[Published],
    letters: Sequence[Letter],
    committed_offsets: Mapping[tuple[str, TopicPartition], int],
    ends: Mapping[TopicPartition, int],
) -> list[GroupResult]:
    """Per (service, group, topic): letters found against those expected, the sentinel's
    fate and whether the group caught up with `ends`."""
    by_group: dict[tuple[str, Position], Letter] = {}
    for letter in letters:
        by_group.setdefault((letter.group, letter.position), letter)
    by_topic: dict[str, list[Published]] = defaultdict(list)
    for item in malformed:
        by_topic[item.message.topic].append(item)
    sentinel_of = {item.message.topic: item for item in sentinels}
    results = []
    for service, group, topic in consumers:
        result = GroupResult(service=service, group=group, topic=topic)
        for item in by_topic.get(topic, ()):
            result.expected += 1
            found = by_group.get((group, item.position))
            if found is None:
                result.missing.append(
                    {
                        "kind": item.message.kind,
                        "description": item.message.description,
                        "partition": item.partition,
                        "offset": item.offset,
                    }
                )
                continue
            result.dead_lettered += 1
            result.reasons[found.kind] = result.reasons.get(found.kind, 0) + 1
            if not found.reason.strip():
                result.without_reason += 1
        sentinel = sentinel_of.get(topic)
        if sentinel is not None:
            refused = by_group.get((group, sentinel.position))
            done = committed_offsets.get((group, TopicPartition(topic, sentinel.partition)), -1)
            if refused is not None:
                result.sentinel = f"dead_lettered: {refused.kind}: {refused.reason}"
            elif done > sentinel.offset:
                result.sentinel = "processed"
            else:
                result.sentinel = "pending"
        result.caught_up = all(
            committed_offsets.get((group, partition), 0) >= end
            for partition, end in ends.items()
            if partition.topic == topic and end > 0
        )
        results.append(result)
    return results


def other_letters(
    letters: Sequence[Letter], *, malformed: Sequence[Published], sentinels: Sequence[Published]
) -> list[Letter]:
    """Letters of messages the Kafka phase did not publish itself."""
    ours = {item.position for item in (*malformed, *sentinels)}
    return [letter for letter in letters if letter.position not in ours]


async def wait_for_consumers(
    bootstrap: str,
    consumers: Sequence[tuple[str, str, str]],
    *,
    reader: LetterReader,
    malformed: Sequence[Published],
    sentinels: Sequence[Published],
    timeout_s: float,
    on_progress: Any = None,
) -> list[GroupResult]:
    """Poll letters and committed offsets until every group is done or `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    topics = [topic for _, _, topic in consumers]
    groups = [group for _, group, _ in consumers]
    while True:
        await reader.poll()
        ends = await end_offsets(bootstrap, topics)
        results = group_results(
            consumers,
            malformed=malformed,
            sentinels=sentinels,
            letters=reader.letters,
            committed_offsets=await committed(bootstrap, groups),
            ends=ends,
        )
        if on_progress is not None:
            on_progress(results)
        if all(result.settled for result in results) or loop.time() >= deadline:
            await reader.poll(timeout_ms=200)
            return results
        await asyncio.sleep(1.0)
