"""The batch mode of the consumer policy (relais_runtime.consumer), for high-volume topics.

Same guarantees as `ReliableConsumer`, fewer round trips:
1. a batch is up to `max_records` messages; each is decoded and validated, then
   prepared (`prepare`: pure CPU work, no I/O, e.g. parsing a carrier payload); a
   message that cannot be decoded, or whose preparation raises, goes to the
   dead-letter topic with the reason (acknowledged by Kafka) while the rest of the
   batch goes on;
2. in ONE PostgreSQL transaction: the batch's event ids are claimed for the group with
   one statement (already processed ones, and repeats inside the batch, are skipped),
   the handler gets the claimed, prepared events and the connection, so its writes and
   outbox rows commit with the claims;
3. a transient failure rolls back and retries the whole batch with exponential backoff
   and jitter; when retries are exhausted, or on any other exception, the batch is
   replayed one message per transaction (same claim, same retries), so only the
   messages that fail are dead-lettered and the others are processed;
4. only then are the batch's offsets committed, in order. While one batch's
   transaction runs, the next batch is fetched and prepared (the CPU work overlaps
   the database's), never applied: batches are applied and committed one after
   another. On shutdown the batch in hand is finished and committed before the
   consumer leaves the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_runtime.consumer import (
    RetryPolicy,
    _decode_error_kind,
    _short,
    is_transient,
    send_dead_letter,
)
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger
from relais_runtime.metrics import (
    CONSUMER_BATCH_SIZE,
    HANDLER_RETRIES,
    HANDLER_SECONDS,
    MESSAGES_CONSUMED,
)

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Fetched: TypeAlias = dict[TopicPartition, list[Record]]


@dataclass(frozen=True)
class Prepared:
    """One decoded message and what `prepare` made of it."""

    record: Record
    event: Event
    value: Any


BatchHandler = Callable[[Sequence[Prepared], DbConnection], Awaitable[None]]
"""Gets the batch's new events (prepared, in topic order) and the transaction's connection.
Raise relais_runtime.consumer.TransientError to retry, anything else to isolate the
failing message (it is dead-lettered)."""


def no_preparation(event: Event) -> Any:
    return None


@dataclass(frozen=True)
class BatchSubscription:
    topic: Topic
    group_id: str
    handler: BatchHandler
    prepare: Callable[[Event], Any] = no_preparation
    """Pure and CPU-only; an exception dead-letters that message (its reason is kept)."""
    max_records: int = 1000


PREPARE_SLICE = 50
"""Messages prepared between two yields to the event loop (lets the running
transaction send its next statement)."""


class BatchConsumer:
    def __init__(
        self,
        *,
        subscription: BatchSubscription,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        retry: RetryPolicy,
        bootstrap: str,
        fetch_timeout_ms: int = 500,
        top_up_ms: int = 5,
    ) -> None:
        self.subscription = subscription
        self._pool = pool
        self._producer = producer
        self._retry = retry
        self._bootstrap = bootstrap
        self._fetch_timeout_ms = fetch_timeout_ms
        self._top_up_ms = top_up_ms

    @property
    def group(self) -> str:
        return self.subscription.group_id

    @property
    def _topic(self) -> str:
        return self.subscription.topic.name

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set. An unexpected failure (Kafka unreachable, a dead
        letter that cannot be published) leaves the batch uncommitted, is logged, and
        consuming starts again after a pause: the batch is redelivered and the claims
        make that a no-op for what was already applied."""
        while not stop.is_set():
            try:
                await self._consume(stop)
            except Exception as error:
                log.error("batch consumer failed, restarting", error=type(error).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._retry.backoff_max_s)

    async def _consume(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.subscription.max_records,
        )
        await consumer.start()
        in_flight: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                fetched = await self._fetch(consumer)
                records = [record for batch in fetched.values() for record in batch]
                ready = await self.prepare(records) if records else []
                if in_flight is not None:
                    await in_flight
                    in_flight = None
                if records:
                    in_flight = asyncio.create_task(
                        self._apply_and_commit(consumer, fetched, ready, size=len(records))
                    )
            if in_flight is not None:
                await in_flight
                in_flight = None
        finally:
            if in_flight is not None:
                # Leaving on a failure: let the batch being applied end before the
                # consumer closes (its commit may fail; it is then redelivered).
                with contextlib.suppress(Exception):
                    await in_flight
            await consumer.stop()

    async def process(self, records: Sequence[Record]) -> dict[str, int]:
        """Prepare and apply one batch (no pipelining); returns the outcome counts."""
        ready = await self.prepare(records)
        outcomes = await self.apply(ready)
        dead = len(records) - len(ready)
        return {**outcomes, "dead_lettered": outcomes.get("dead_lettered", 0) + dead}

    async def _fetch(self, consumer: AIOKafkaConsumer) -> Fetched:
        """Up to `max_records`: what the first fetch brings, topped up with what is
        already buffered (a fetch returns one broker response, often a few dozen)."""
        limit = self.subscription.max_records
        fetched: Fetched = await consumer.getmany(
            timeout_ms=self._fetch_timeout_ms, max_records=limit
        )
        size = sum(len(batch) for batch in fetched.values())
        while 0 < size < limit:
            more = await consumer.getmany(timeout_ms=self._top_up_ms, max_records=limit - size)
            if not more:
                break
            for partition, batch in more.items():
                fetched.setdefault(partition, []).extend(batch)
                size += len(batch)
        return fetched

    async def prepare(self, records: Sequence[Record]) -> list[Prepared]:
        """Decode and prepare each message; the ones that fail are dead-lettered."""
        ready: list[Prepared] = []
        dead = 0
        for index, record in enumerate(records):
            if index and index % PREPARE_SLICE == 0:
                await asyncio.sleep(0)
            try:
                event = self.subscription.topic.decode(record.value or b"")
            except ValidationError as error:
                await send_dead_letter(
                    self._producer,
                    record,
                    group=self.group,
                    kind=_decode_error_kind(error),
                    message=_short(error),
                )
                dead += 1
                continue
            try:
                ready.append(Prepared(record, event, self.subscription.prepare(event)))
            except Exception as error:
                await send_dead_letter(
                    self._producer,
                    record,
                    group=self.group,
                    kind="handler_failed",
                    message=f"{type(error).__name__}: {_short(error)}",
                    event=event,
                )
                dead += 1
        if dead:
            MESSAGES_CONSUMED.labels(
                group=self.group, topic=self._topic, outcome="dead_lettered"
            ).inc(dead)
        return ready

    async def _apply_and_commit(
        self, consumer: AIOKafkaConsumer, fetched: Fetched, ready: list[Prepared], *, size: int
    ) -> None:
        started = time.perf_counter()
        CONSUMER_BATCH_SIZE.labels(group=self.group, topic=self._topic).observe(size)
        await self.apply(ready)
        HANDLER_SECONDS.labels(group=self.group, topic=self._topic).observe(
            (time.perf_counter() - started) / max(size, 1)
        )
        await _commit(consumer, fetched)

    async def apply(self, ready: Sequence[Prepared]) -> dict[str, int]:
        """Handle prepared messages in one transaction (or one by one after a failure)."""
        outcomes: dict[str, int] = {}
        if ready:
            try:
                processed = await self._with_retries(lambda: self._handle(ready))
                _add(outcomes, "processed", processed)
                _add(outcomes, "duplicate", len(ready) - processed)
            except Exception as error:
                log.warning(
                    "batch failed, replaying it one message at a time",
                    error=type(error).__name__,
                    size=len(ready),
                )
                for item in ready:
                    _add(outcomes, await self._apply_alone(item))
        for outcome, count in outcomes.items():
            MESSAGES_CONSUMED.labels(group=self.group, topic=self._topic, outcome=outcome).inc(
                count
            )
        return outcomes

    async def _apply_alone(self, item: Prepared) -> str:
        try:
            processed = await self._with_retries(lambda: self._handle([item]))
        except Exception as error:
            kind = "retries_exhausted" if is_transient(error) else "handler_failed"
            log.error("message dead-lettered", kind=kind, error=type(error).__name__)
            await send_dead_letter(
                self._producer,
                item.record,
                group=self.group,
                kind=kind,
                message=f"{type(error).__name__}: {_short(error)}",
                attempts=self._retry.max_attempts if is_transient(error) else 1,
                event=item.event,
            )
            return "dead_lettered"
        return "processed" if processed else "duplicate"

    async def _with_retries(self, attempt: Callable[[], Awaitable[int]]) -> int:
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=wait_random_exponential(
                multiplier=self._retry.backoff_initial_s, max=self._retry.backoff_max_s
            ),
            before_sleep=lambda _state: HANDLER_RETRIES.labels(
                group=self.group, topic=self._topic
            ).inc(),
            reraise=True,
        )
        async for state in retrying:
            with state:
                return await attempt()
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _handle(self, batch: Sequence[Prepared]) -> int:
        async with self._pool.acquire() as connection, connection.transaction():
            claimed = await claim_events(
                connection, consumer_group=self.group, event_ids=[p.event.event_id for p in batch]
            )
            fresh: list[Prepared] = []
            for item in batch:
                if item.event.event_id in claimed:
                    claimed.discard(item.event.event_id)
                    fresh.append(item)
            if fresh:
                await self.subscription.handler(fresh, connection)
        return len(fresh)


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


async def _commit(consumer: AIOKafkaConsumer, fetched: Fetched) -> None:
    offsets = {partition: batch[-1].offset + 1 for partition, batch in fetched.items() if batch}
    try:
        await consumer.commit(offsets)
    except CommitFailedError:
        # The group rebalanced while the batch was handled: its new owner reads these
        # messages again and the claims make that a no-op.
        log.warning("offset commit failed after a rebalance; messages will be redelivered")


def _add(outcomes: dict[str, int], outcome: str, count: int = 1) -> None:
    if count:
        outcomes[outcome] = outcomes.get(outcome, 0) + count
