"""Kafka producer setup and the message headers every Relais message carries.

Producer rules: idempotent (no duplicates from producer retries), acks=all (a
send is confirmed only once every in-sync replica has it), a few milliseconds of
linger so sends are batched without adding visible latency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from relais_contracts.envelope import Event
from relais_runtime.settings import KafkaSettings
from relais_runtime.tracing import trace_headers

Headers = list[tuple[str, bytes]]


def make_producer(settings: KafkaSettings, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.kafka_linger_ms,
        request_timeout_ms=settings.kafka_request_timeout_ms,
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


async def kafka_is_ready(producer: AIOKafkaProducer, *, timeout_s: float = 3.0) -> bool:
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=timeout_s)
    except Exception:
        return False
    return True
