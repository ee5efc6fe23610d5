"""Kafka producer setup and the message headers every Relais message carries.

Producer rules: idempotent (no duplicates from producer retries), acks=all (a
send is confirmed only once every in-sync replica has it), a few milliseconds of
linger so sends are batched without adding visible latency, batches of up to
`MAX_BATCH_BYTES` per partition (the outbox relay hands over thousands of messages
at once), and Kafka's default partitioner (murmur2 of the key, as every other
client computes it) with its hash remembered per key.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from relais_contracts.envelope import Event
from relais_runtime.kafka_security import kafka_client_options
from relais_runtime.settings import KafkaSettings
from relais_runtime.tracing import trace_headers

Headers = list[tuple[str, bytes]]

MAX_BATCH_BYTES = 512 * 1024
"""Under the broker's default message.max.bytes (1 MiB), far over aiokafka's 16 KiB."""


@lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def default_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's DefaultPartitioner (the Java client's choice for a key), memoised: the
    pure-Python murmur2 is otherwise computed again for every message of a shipment."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[_key_hash(key) % len(all_partitions)]


def make_producer(settings: KafkaSettings, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **kafka_client_options(settings),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.kafka_linger_ms,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        max_batch_size=MAX_BATCH_BYTES,
        partitioner=default_partitioner,
    )


def event_headers(event: Event) -> Headers:
    """The envelope's routing facts, plus the current trace context (W3C traceparent)."""
    return [
        ("content-type", b"application/json"),
        ("event_type", event.event_type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("correlation_id", event.correlation_id.encode()),
        ("merchant_id", event.merchant_id.encode()),
        *trace_headers(),
    ]


def encode_event(event: Event) -> bytes:
    return event.model_dump_json().encode()


async def publish_events(
    producer: AIOKafkaProducer, *, topic: str, events: Sequence[Event]
) -> None:
    """Send every event and return once Kafka has acknowledged all of them."""
    futures = [
        await producer.send(
            topic,
            value=encode_event(event),
            key=event.partition_key(),
            headers=event_headers(event),
        )
        for event in events
    ]
    await asyncio.gather(*futures)


OutgoingMessage = tuple[str, bytes | None, bytes | None, Headers]
"""(topic, key, value, headers); a None value is a tombstone."""


async def send_batched(
    producer: AIOKafkaProducer, messages: Iterable[OutgoingMessage]
) -> list[asyncio.Future[Any]]:
    """Hand messages to the producer as record batches, one open batch per partition,
    without awaiting any acknowledgement; returns the futures of the batches (each
    resolves once Kafka acknowledged its batch). Each message goes to the partition
    `default_partitioner` picks for its key, and messages of one partition keep their
    order. Far cheaper per message than `producer.send` (no per-message metadata wait,
    partitioning and future); meant for bulk publishers such as the outbox relay."""
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], Any] = {}
    futures: list[asyncio.Future[Any]] = []
    for topic, key, value, headers in messages:
        if topic not in partitions:
            partitions[topic] = sorted(await producer.partitions_for(topic))
        known = partitions[topic]
        partition = default_partitioner(key, known, known)
        batch = open_batches.get((topic, partition))
        if batch is None:
            batch = open_batches[(topic, partition)] = producer.create_batch()
        if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = open_batches[(topic, partition)] = producer.create_batch()
            if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                size = len(value or b"")
                raise ValueError(f"a message of {size} bytes does not fit in a batch")
    for (topic, partition), batch in open_batches.items():
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures


async def kafka_is_ready(producer: AIOKafkaProducer, *, timeout_s: float = 3.0) -> bool:
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=timeout_s)
    except Exception:
        return False
    return True
