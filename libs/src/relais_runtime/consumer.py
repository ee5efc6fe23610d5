"""The consumer policy every Relais consumer follows. It never loses a message.

For each message, in order:
1. decode and validate it against its topic's contract; a message that is not
   JSON, does not validate or has an unknown event type goes to the dead-letter
   topic with the reason, the original bytes, topic, partition and offset;
2. in one PostgreSQL transaction: claim the event id for this consumer group
   (a redelivered event is skipped: exactly-once effects), run the handler with
   that connection, so its writes and its outbox rows commit together;
3. a transient failure (connection lost, timeout, `TransientError`) rolls the
   transaction back and is retried with exponential backoff and jitter, at most
   `max_attempts` times, without a hot loop; then the message is dead-lettered;
   any other exception is a permanent failure and is dead-lettered at once;
4. only then is the offset committed (FastStream's AckPolicy.MANUAL: the default
   commits first, which is at-most-once). A dead letter is acknowledged by Kafka
   before the offset of its message is committed.

Every message is handled inside an OpenTelemetry CONSUMER span, the child of the
trace context in its headers (`relais_runtime.tracing`), so what the handler
enqueues carries the same trace. `watch_lag` keeps `relais_consumer_lag` current
for the partitions each member owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from relais_contracts.envelope import Event, utc_now
from relais_contracts.registry import Topic
from relais_contracts.topics import dead_letters
from relais_runtime.db import DbConnection
from relais_runtime.kafka import publish_events
from relais_runtime.logging import get_logger
from relais_runtime.metrics import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    HANDLER_RETRIES,
    HANDLER_SECONDS,
    MESSAGES_CONSUMED,
)
from relais_runtime.tracing import consumer_span, mark_failed

log = get_logger(__name__)


class TransientError(Exception):
    """Raise from a handler for a failure worth retrying (a dependency is down)."""


class PermanentError(Exception):
    """Raise from a handler for a message that can never succeed: dead-letter it."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    OSError,
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT_ERRORS)


@dataclass(frozen=True)
class MessageContext:
    """What a handler gets besides the event: its transaction and where the event came from."""

    connection: DbConnection
    topic: str
    partition: int
    offset: int
    attempt: int


Handler = Callable[[Event, MessageContext], Awaitable[None]]
TombstoneHandler = Callable[[bytes, MessageContext], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0


@dataclass(frozen=True)
class Subscription:
    """One consumer group reading one topic with one handler."""

    topic: Topic
    group_id: str
    handler: Handler
    on_tombstone: TombstoneHandler | None = None
    """Called, in a transaction, with the key a compacted topic erases (a null value).
    Without it a tombstone is counted and skipped, never dead-lettered."""


class ReliableConsumer:
    """Applies the policy above to one subscription; see `process`."""

    def __init__(
        self,
        *,
        subscription: Subscription,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        retry: RetryPolicy,
    ) -> None:
        self.subscription = subscription
        self._pool = pool
        self._producer = producer
        self._retry = retry
        self._subscriber: Any = None
        self._lag_partitions: set[TopicPartition] = set()

    @property
    def group(self) -> str:
        return self.subscription.group_id

    async def process(self, record: ConsumerRecord[Any, Any]) -> str:
        """Handle one record; returns the outcome: processed, duplicate or dead_lettered."""
        with consumer_span(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            group=self.group,
            headers=record.headers,
        ) as span:
            outcome = await self._process(record)
            span.set_attribute("relais.outcome", outcome)
            if outcome == "dead_lettered":
                mark_failed(span, reason="dead-lettered")
            return outcome

    async def _process(self, record: ConsumerRecord[Any, Any]) -> str:
        topic = self.subscription.topic
        started = time.perf_counter()
        if record.value is None:
            return self._count(record, await self._handle_tombstone(record))
        try:
            event = topic.decode(record.value)
        except ValidationError as error:
            await send_dead_letter(
                self._producer,
                record,
                group=self.group,
                kind=_decode_error_kind(error),
                message=_short(error),
            )
            return self._count(record, "dead_lettered")
        structlog.contextvars.bind_contextvars(
            correlation_id=event.correlation_id,
            event_id=str(event.event_id),
            event_type=event.event_type,
        )
        try:
            outcome = await self._handle_with_retries(record, event)
        finally:
            HANDLER_SECONDS.labels(group=self.group, topic=record.topic).observe(
                time.perf_counter() - started
            )
            structlog.contextvars.unbind_contextvars("correlation_id", "event_id", "event_type")
        return self._count(record, outcome)

    async def _handle_tombstone(self, record: ConsumerRecord[Any, Any]) -> str:
        hook = self.subscription.on_tombstone
        if hook is None or record.key is None:
            return "tombstone_skipped"

        async def erase(attempt: int) -> str:
            async with self._pool.acquire() as connection, connection.transaction():
                await hook(record.key, self._context(record, connection, attempt=attempt))
            return "tombstone_applied"

        return await self._with_retries(record, erase)

    async def _handle_with_retries(self, record: ConsumerRecord[Any, Any], event: Event) -> str:
        async def handle(attempt: int) -> str:
            return await self._handle_once(record, event, attempt=attempt)

        return await self._with_retries(record, handle, event=event)

    async def _with_retries(
        self,
        record: ConsumerRecord[Any, Any],
        work: Callable[[int], Awaitable[str]],
        *,
        event: Event | None = None,
    ) -> str:
        attempt = 0
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=wait_random_exponential(
                multiplier=self._retry.backoff_initial_s, max=self._retry.backoff_max_s
            ),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt_state in retrying:
                with attempt_state:
                    attempt = attempt_state.retry_state.attempt_number
                    return await work(attempt)
        except Exception as error:
            kind = "retries_exhausted" if is_transient(error) else "handler_failed"
            log.error("message dead-lettered", kind=kind, error=type(error).__name__)
            await send_dead_letter(
                self._producer,
                record,
                group=self.group,
                kind=kind,
                message=f"{type(error).__name__}: {_short(error)}",
                attempts=max(attempt, 1),
                event=event,
            )
            return "dead_lettered"
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _handle_once(
        self, record: ConsumerRecord[Any, Any], event: Event, *, attempt: int
    ) -> str:
        async with self._pool.acquire() as connection, connection.transaction():
            if not await claim_event(
                connection, consumer_group=self.group, event_id=event.event_id
            ):
                return "duplicate"
            await self.subscription.handler(
                event, self._context(record, connection, attempt=attempt)
            )
        return "processed"

    @staticmethod
    def _context(
        record: ConsumerRecord[Any, Any], connection: DbConnection, *, attempt: int
    ) -> MessageContext:
        return MessageContext(
            connection=connection,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempt=attempt,
        )

    def _log_retry(self, state: RetryCallState) -> None:
        HANDLER_RETRIES.labels(group=self.group, topic=self.subscription.topic.name).inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "transient failure, retrying",
            attempt=state.attempt_number,
            error=type(error).__name__ if error else None,
        )

    def _count(self, record: ConsumerRecord[Any, Any], outcome: str) -> str:
        MESSAGES_CONSUMED.labels(group=self.group, topic=record.topic, outcome=outcome).inc()
        return outcome

    def register(self, broker: KafkaBroker) -> None:
        """Subscribe on the broker with manual acknowledgement."""

        async def on_message(message: KafkaMessage) -> None:
            await self.process(message.raw_message)
            await message.ack()

        self._subscriber = broker.subscriber(
            self.subscription.topic.name,
            group_id=self.group,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
        )
        self._subscriber(on_message)

    async def record_lag(self) -> None:
        """Set the lag of the partitions this member owns; forget those it no longer owns.

        Lag is the high watermark last seen by the fetcher minus the group's committed
        offset (the beginning of the partition while nothing is committed: the group
        starts from the earliest message).
        """
        consumer: AIOKafkaConsumer | None = getattr(self._subscriber, "consumer", None)
        owned = set(consumer.assignment()) if consumer is not None else set()
        for partition in self._lag_partitions - owned:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.group, partition.topic, str(partition.partition))
        self._lag_partitions &= owned
        if consumer is None:
            return
        for partition in owned:
            high = consumer.highwater(partition)
            if high is None:
                continue
            committed = await consumer.committed(partition)
            if committed is None:
                committed = (await consumer.beginning_offsets([partition]))[partition]
            CONSUMER_LAG.labels(
                group=self.group, topic=partition.topic, partition=str(partition.partition)
            ).set(max(high - committed, 0))
            self._lag_partitions.add(partition)


async def watch_lag(
    consumers: Sequence[ReliableConsumer], *, stop: asyncio.Event, interval_s: float
) -> None:
    """Refresh every consumer's lag until `stop` is set; a failed pass is retried next time."""
    while not stop.is_set():
        for consumer in consumers:
            try:
                await consumer.record_lag()
            except Exception as error:
                log.debug("consumer lag not refreshed", error=type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


async def claim_event(connection: DbConnection, *, consumer_group: str, event_id: UUID) -> bool:
    """Record that this group processes this event; False if it already did."""
    claimed = await connection.fetchval(
        "INSERT INTO processed_events (consumer_group, event_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING RETURNING true",
        consumer_group,
        event_id,
    )
    return bool(claimed)


async def send_dead_letter(
    producer: AIOKafkaProducer,
    record: ConsumerRecord[Any, Any],
    *,
    group: str,
    kind: str,
    message: str,
    attempts: int = 1,
    event: Event | None = None,
) -> None:
    """Publish the dead letter of `record` (acks=all) and count it; the caller commits
    the record's offset only after this returns."""
    letter = build_dead_letter(
        record, group=group, kind=kind, message=message, attempts=attempts, event=event
    )
    await publish_events(producer, topic=dead_letters.TOPIC.name, events=[letter])
    DEAD_LETTERS.labels(group=group, topic=record.topic, kind=kind).inc()


def build_dead_letter(
    record: ConsumerRecord[Any, Any],
    *,
    group: str,
    kind: str,
    message: str,
    attempts: int = 1,
    event: Event | None = None,
) -> dead_letters.MessageDeadLettered:
    encode = dead_letters.MessageDeadLettered.encode_bytes
    return dead_letters.MessageDeadLettered(
        occurred_at=utc_now(),
        merchant_id=event.merchant_id if event else "unknown",
        correlation_id=event.correlation_id
        if event
        else f"{record.topic}/{record.partition}/{record.offset}",
        consumer_group=group,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_key_b64=encode(record.key) if record.key is not None else None,
        source_headers=_text_headers(record.headers),
        original_value_b64=encode(record.value or b""),
        reason=dead_letters.DeadLetterReason(kind=kind, message=message[:4000], attempts=attempts),
    )


def _text_headers(headers: Any) -> dict[str, str]:
    pairs: Mapping[str, bytes] = dict(headers or ())
    return {name: value.decode("utf-8", "replace") for name, value in pairs.items()}


def _decode_error_kind(error: ValidationError) -> str:
    types = {problem["type"] for problem in error.errors()}
    if "json_invalid" in types or "json_type" in types:
        return "undecodable"
    if "union_tag_invalid" in types or any(
        problem["loc"] == ("event_type",) for problem in error.errors()
    ):
        return "unknown_event_type"
    return "invalid"


def _short(error: BaseException) -> str:
    """The reason without input values (they may hold personal data)."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(root)'}: {problem['msg']}"
            for problem in error.errors(include_url=False, include_input=False)
        )[:4000]
    return str(error)[:500]
