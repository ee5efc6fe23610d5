"""What a service declares to consume a topic; the runtime's pipeline does the rest.

A service lists `Subscription`s (one handler per message) and `BatchSubscription`s (one
handler per batch, for high-volume topics) in its wiring. The runtime runs each with
`relais_runtime.pipeline.Consumer`, which applies the one consumer policy of Relais
(decode -> claim -> handle -> commit, see that module). A handler:
- gets the transaction's connection: its writes and outbox rows commit with the claim
  of the event id (exactly-once effects on at-least-once delivery);
- raises `PermanentError` (or anything not transient) to dead-letter the message,
  `NotYetError` when it needs a message that has not arrived yet, and lets
  infrastructure failures propagate: the consumer then waits and retries, forever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

from aiokafka import ConsumerRecord

from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_runtime.db import DbConnection
from relais_runtime.dead_letters import build_dead_letter, send_dead_letter
from relais_runtime.failures import (
    NotYetError,
    PermanentError,
    TransientError,
    is_transient,
)

__all__ = [
    "BatchHandler",
    "BatchSubscription",
    "Handler",
    "MessageContext",
    "NotYetError",
    "PermanentError",
    "Prepared",
    "RetryPolicy",
    "Subscription",
    "TransientError",
    "build_dead_letter",
    "claim_event",
    "claim_events",
    "is_transient",
    "send_dead_letter",
]

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class MessageContext:
    """What a handler gets besides the event: its transaction and where the event came from."""

    connection: DbConnection
    topic: str
    partition: int
    offset: int
    attempt: int


@dataclass(frozen=True)
class Prepared:
    """One decoded message (None for a tombstone) and what `prepare` made of it."""

    record: Record
    event: Event | None
    value: Any = None


Handler = Callable[[Event, MessageContext], Awaitable[None]]
TombstoneHandler = Callable[[bytes, MessageContext], Awaitable[None]]
BatchHandler = Callable[[Sequence[Prepared], DbConnection], Awaitable[None]]
"""Gets the batch's new events (prepared, in topic order, never tombstones) and the
transaction's connection. A failure other than a transient one isolates the failing
message: the batch is replayed one message per transaction."""
DueTime = Callable[[Event], "datetime | None"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    """Attempts at a message whose dependency has not arrived (NotYetError) before it is
    dead-lettered. Infrastructure failures are retried without limit."""
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0


def no_preparation(event: Event) -> Any:
    return None


@dataclass(frozen=True)
class Subscription:
    """One consumer group reading one topic with one handler per message."""

    topic: Topic
    group_id: str
    handler: Handler
    on_tombstone: TombstoneHandler | None = None
    """Called, in the transaction, with the key a compacted topic erases (a null value).
    Without it a tombstone is counted and skipped, never dead-lettered."""
    max_records: int = 100
    """Messages handled in one transaction (replayed one by one if one of them fails)."""
    due_at: DueTime | None = None
    """When set, a message is handled only once its due time has passed on the service's
    clock; its partition is paused until then (retry tiers)."""
    prefetch_partition_bytes: int = 256 * 1024
    """What the client fetches ahead per partition (Kafka's max.partition.fetch.bytes):
    a service with one consumer per topic holds up to topics x partitions x this while
    behind (insights: 8 x 6 x 1 MiB = 48 MiB at the client's default, 12 MiB here); a
    batch of `max_records` one-at-a-time messages needs far less."""


@dataclass(frozen=True)
class BatchSubscription:
    """One consumer group reading one topic with one handler per batch."""

    topic: Topic
    group_id: str
    handler: BatchHandler
    prepare: Callable[[Event], Any] = no_preparation
    """Pure and CPU-only; an exception dead-letters that message (its reason is kept)."""
    max_records: int = 1000
    prefetch_partition_bytes: int = 1024 * 1024
    """As Subscription's; a batch of `max_records` needs about this much per partition."""


AnySubscription: TypeAlias = Subscription | BatchSubscription


async def claim_event(connection: DbConnection, *, consumer_group: str, event_id: UUID) -> bool:
    """Record that this group processes this event; False if it already did."""
    return bool(await claim_events(connection, consumer_group=consumer_group, event_ids=[event_id]))


async def claim_events(
    connection: DbConnection, *, consumer_group: str, event_ids: Sequence[UUID]
) -> set[UUID]:
    """Record that this group processes these events; returns those it had not yet."""
    rows = await connection.fetch(
        "INSERT INTO processed_events (consumer_group, event_id)"
        " SELECT $1, id FROM unnest($2::uuid[]) AS id"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer_group,
        list(dict.fromkeys(event_ids)),
    )
    return {row["event_id"] for row in rows}
