"""The one consumer pipeline of Relais: fetch -> hold not-due -> decode -> claim+handle -> commit.

Every subscription of every service runs here, per message or per batch, so the
rules exist once:
1. fetch up to `max_records` messages; with a due time (retry tiers), a partition whose
   next message is not due yet is rewound to it and paused until it is (the others
   keep flowing);
2. decode each message against its topic's contract; a message that is not JSON, does
   not validate, has an unknown event type, or whose preparation raises is
   dead-lettered with the reason (the others go on). A replayed message addressed to
   another consumer group (header `relais-replay-for`) is skipped;
3. in ONE PostgreSQL transaction: claim the event ids for the group (already processed
   ones are skipped: exactly-once effects) and run the handler with the connection, so
   its writes and outbox rows commit with the claims;
4. commit the offsets, only then.
Failures (relais_runtime.failures):
- infrastructure (PostgreSQL or Kafka unreachable, restarting, overloaded...): never
  the message's fault. The consumer stops taking messages, retries the same step with
  capped exponential backoff and jitter for as long as it takes, reports itself
  waiting (`/ready` answers 503), and resumes exactly where it stopped. On shutdown
  during an outage nothing is committed: the messages come again after the restart;
- the message's fault: the batch is replayed one message per transaction, so only
  the failing message is dead-lettered (with its reason) and the others are handled;
  a message waiting for another (`NotYetError`) is tried `max_attempts` times first.
While one batch is handled, the next one is fetched and decoded (CPU overlaps the
database), never handled: batches are handled and committed one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from pydantic import ValidationError

from relais_contracts.envelope import Event
from relais_runtime.clock import Clock
from relais_runtime.consumer import (
    AnySubscription,
    BatchSubscription,
    DueTime,
    MessageContext,
    Prepared,
    RetryPolicy,
    Subscription,
    claim_events,
)
from relais_runtime.db import DbConnection
from relais_runtime.dead_letters import (
    DeadLetterKind,
    decode_error_kind,
    describe,
    replay_target,
    send_dead_letter,
    short_reason,
)
from relais_runtime.failures import NotYetError, backoff_delay, is_transient
from relais_runtime.logging import get_logger
from relais_runtime.metrics import (
    CONSUMER_BATCH_SIZE,
    CONSUMER_LAG,
    CONSUMER_PAUSED_SECONDS,
    HANDLER_RETRIES,
    HANDLER_SECONDS,
    MESSAGES_CONSUMED,
)
from relais_runtime.supervisor import Supervisor, beat
from relais_runtime.tracing import consumer_span, mark_failed

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Fetched: TypeAlias = dict[TopicPartition, list[Record]]
Outcomes: TypeAlias = dict[str, int]
T = TypeVar("T")

PREPARE_SLICE = 50
"""Messages decoded between two yields to the event loop (lets the running transaction
send its next statement)."""


class Stopping(Exception):
    """The service stops while work waits on the infrastructure: leave, commit nothing."""


class Outage:
    """Retries one step while the infrastructure fails; raises what is the message's fault."""

    def __init__(
        self,
        *,
        name: str,
        topic: str,
        policy: RetryPolicy,
        stop: asyncio.Event,
        supervisor: Supervisor | None,
    ) -> None:
        self._name = name
        self._topic = topic
        self._policy = policy
        self._stop = stop
        self._supervisor = supervisor

    async def until_done(self, work: Callable[[], Awaitable[T]]) -> T:
        failures = 0
        began = time.monotonic()
        try:
            while True:
                try:
                    return await work()
                except Exception as error:
                    if not is_transient(error):
                        raise
                    failures += 1
                    self._waiting(error, failures)
                    await self.sleep(failures)
        finally:
            if failures:
                self._resumed(time.monotonic() - began)

    async def sleep(self, failures: int) -> None:
        """A capped, jittered exponential pause; raises Stopping if the service stops."""
        delay = backoff_delay(
            failures, initial_s=self._policy.backoff_initial_s, max_s=self._policy.backoff_max_s
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=delay)
        if self._stop.is_set():
            raise Stopping

    def _waiting(self, error: BaseException, failures: int) -> None:
        HANDLER_RETRIES.labels(group=self._name, topic=self._topic).inc()
        if self._supervisor is not None:
            self._supervisor.set_waiting(self._name, type(error).__name__)
        if failures == 1 or failures % 10 == 0:
            log.warning(
                "infrastructure failure, consumer paused",
                group=self._name,
                error=type(error).__name__,
                attempt=failures,
            )

    def _resumed(self, paused_s: float) -> None:
        CONSUMER_PAUSED_SECONDS.labels(group=self._name, topic=self._topic).inc(paused_s)
        if self._supervisor is not None:
            self._supervisor.clear_waiting(self._name)
        log.info("consumer resumed", group=self._name, paused_s=round(paused_s, 3))


class Consumer:
    """Runs one subscription through the pipeline described above."""

    def __init__(
        self,
        *,
        subscription: AnySubscription,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        retry: RetryPolicy,
        bootstrap: str,
        clock: Clock | None = None,
        supervisor: Supervisor | None = None,
        fetch_timeout_ms: int = 500,
        top_up_ms: int = 5,
    ) -> None:
        self._due: DueTime | None = (
            subscription.due_at if isinstance(subscription, Subscription) else None
        )
        self._prepare: Callable[[Event], Any] | None = (
            subscription.prepare if isinstance(subscription, BatchSubscription) else None
        )
        if self._due is not None and clock is None:
            raise ValueError("a subscription with a due time needs a clock")
        self.subscription = subscription
        self._pool = pool
        self._producer = producer
        self._retry = retry
        self._bootstrap = bootstrap
        self._clock = clock
        self._supervisor = supervisor
        self._fetch_timeout_ms = fetch_timeout_ms
        self._top_up_ms = top_up_ms
        self._stop = asyncio.Event()
        self._kafka: AIOKafkaConsumer | None = None
        self._paused: dict[TopicPartition, datetime] = {}
        self._lag_partitions: set[TopicPartition] = set()

    @property
    def group(self) -> str:
        return self.subscription.group_id

    @property
    def topic(self) -> str:
        return self.subscription.topic.name

    @property
    def name(self) -> str:
        return f"consumer {self.group}"

    def _outage(self) -> Outage:
        return Outage(
            name=self.group,
            topic=self.topic,
            policy=self._retry,
            stop=self._stop,
            supervisor=self._supervisor,
        )

    # -- running -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; finish and commit the batch in hand first."""
        self._stop = stop
        kafka = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self._bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.subscription.max_records,
        )
        await self._outage().until_done(kafka.start)
        self._kafka = kafka
        try:
            await self._consume(kafka, stop)
        except Stopping:
            log.info("consumer stopped during an outage; uncommitted messages come again")
        finally:
            self._kafka = None
            self._paused.clear()
            await kafka.stop()

    async def _consume(self, kafka: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        in_flight: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                beat()
                fetched = await self._fetch(kafka)
                records = [record for batch in fetched.values() for record in batch]
                decoded = await self._decode(records) if records else ([], {})
                if in_flight is not None:
                    await in_flight
                    in_flight = None
                if records:
                    in_flight = asyncio.create_task(
                        self._apply_and_commit(kafka, fetched, decoded, size=len(records))
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

    async def process(self, records: Sequence[Record]) -> Outcomes:
        """Decode and apply records without committing (tests, benchmarks)."""
        ready, outcomes = await self._decode(records)
        return _merged(outcomes, await self.apply(ready))

    # -- step 1: fetch, holding back what is not due ----------------------------------

    async def _fetch(self, kafka: AIOKafkaConsumer) -> Fetched:
        """Up to `max_records`: what the first fetch brings, topped up with what is
        already buffered (one broker response is often a few dozen messages)."""
        self._resume_due(kafka)
        limit = self.subscription.max_records
        fetched: Fetched = await kafka.getmany(
            timeout_ms=self._poll_timeout_ms(), max_records=limit
        )
        size = sum(len(batch) for batch in fetched.values())
        while 0 < size < limit:
            more = await kafka.getmany(timeout_ms=self._top_up_ms, max_records=limit - size)
            if not more:
                break
            for partition, batch in more.items():
                fetched.setdefault(partition, []).extend(batch)
                size += len(batch)
        return self._hold_not_due(kafka, fetched)

    def _due_at(self, due: DueTime, record: Record) -> datetime | None:
        """Decoded here and again by the decode step: a record past a not-due one must
        not be dead-lettered before it is fetched again."""
        try:
            event = self.subscription.topic.decode(record.value or b"")
        except ValidationError:
            return None  # due now: the decode step dead-letters it
        return due(event)

    def _hold_not_due(self, kafka: AIOKafkaConsumer, fetched: Fetched) -> Fetched:
        if self._clock is None or self._due is None:
            return fetched
        now = self._clock.now()
        for partition, records in fetched.items():
            for index, record in enumerate(records):
                due = self._due_at(self._due, record)
                if due is not None and due > now:
                    kafka.seek(partition, record.offset)
                    kafka.pause(partition)
                    self._paused[partition] = due
                    fetched[partition] = records[:index]
                    break
        return {partition: records for partition, records in fetched.items() if records}

    def _resume_due(self, kafka: AIOKafkaConsumer) -> None:
        if not self._paused or self._clock is None:
            return
        now = self._clock.now()
        assigned = kafka.assignment()
        for partition, due in list(self._paused.items()):
            if partition not in assigned:
                del self._paused[partition]
            elif due <= now:
                del self._paused[partition]
                kafka.resume(partition)

    def _poll_timeout_ms(self) -> int:
        if not self._paused or self._clock is None:
            return self._fetch_timeout_ms
        wait = (min(self._paused.values()) - self._clock.now()).total_seconds()
        return int(min(self._fetch_timeout_ms / 1000, max(0.01, wait)) * 1000)

    # -- step 2: decode ---------------------------------------------------------------

    async def _decode(self, records: Sequence[Record]) -> tuple[list[Prepared], Outcomes]:
        """Decode and prepare each message; the ones that fail are dead-lettered."""
        ready: list[Prepared] = []
        outcomes: Outcomes = {}
        for index, record in enumerate(records):
            if index and index % PREPARE_SLICE == 0:
                await asyncio.sleep(0)
            target = replay_target(record)
            if target is not None and target != self.group:
                _add(outcomes, "replay_skipped")
            elif record.value is None:
                ready.append(Prepared(record, None))
            else:
                outcome = await self._decode_one(record, ready)
                if outcome:
                    _add(outcomes, outcome)
        self._count(outcomes)
        return ready, outcomes

    async def _decode_one(self, record: Record, ready: list[Prepared]) -> str | None:
        try:
            event = self.subscription.topic.decode(record.value or b"")
        except ValidationError as error:
            await self._dead_letter(
                record, kind=decode_error_kind(error), message=short_reason(error)
            )
            return "dead_lettered"
        try:
            value = self._prepare(event) if self._prepare is not None else None
        except Exception as error:
            await self._dead_letter(
                record,
                kind=DeadLetterKind.HANDLER_FAILED.value,
                message=describe(error),
                event=event,
            )
            return "dead_lettered"
        ready.append(Prepared(record, event, value))
        return None

    # -- step 3: claim and handle -----------------------------------------------------

    async def _apply_and_commit(
        self,
        kafka: AIOKafkaConsumer,
        fetched: Fetched,
        decoded: tuple[list[Prepared], Outcomes],
        *,
        size: int,
    ) -> None:
        started = time.perf_counter()
        CONSUMER_BATCH_SIZE.labels(group=self.group, topic=self.topic).observe(size)
        await self.apply(decoded[0])
        HANDLER_SECONDS.labels(group=self.group, topic=self.topic).observe(
            (time.perf_counter() - started) / max(size, 1)
        )
        await self._commit(kafka, fetched)

    async def apply(self, ready: Sequence[Prepared]) -> Outcomes:
        """Handle prepared messages in one transaction (or one by one after a failure)."""
        if not ready:
            return {}
        attempts = itertools.count(1)
        try:
            outcomes = await self._outage().until_done(
                lambda: self._transaction(ready, next(attempts))
            )
        except Stopping:
            raise
        except Exception as error:
            if len(ready) > 1:
                log.warning(
                    "batch failed, replaying it one message at a time",
                    group=self.group,
                    error=type(error).__name__,
                    size=len(ready),
                )
            outcomes = {}
            for item in ready:
                _merge(outcomes, await self._apply_alone(item))
        self._count(outcomes)
        return outcomes

    async def _apply_alone(self, item: Prepared) -> Outcomes:
        outage = self._outage()
        attempts = itertools.count(1)
        attempt = 0
        while True:
            try:
                return await outage.until_done(lambda: self._transaction([item], next(attempts)))
            except Stopping:
                raise
            except NotYetError as error:
                attempt += 1
                if attempt < self._retry.max_attempts:
                    HANDLER_RETRIES.labels(group=self.group, topic=self.topic).inc()
                    await outage.sleep(attempt)
                    continue
                kind, reason = DeadLetterKind.DEPENDENCY_MISSING, describe(error)
            except Exception as error:
                attempt += 1
                kind, reason = DeadLetterKind.HANDLER_FAILED, describe(error)
            log.error(
                "message dead-lettered",
                group=self.group,
                kind=kind.value,
            )
            await self._dead_letter(
                item.record,
                kind=kind.value,
                message=reason,
                attempts=attempt,
                event=item.event,
            )
            return {"dead_lettered": 1}

    async def _transaction(self, batch: Sequence[Prepared], attempt: int) -> Outcomes:
        outcomes: Outcomes = {}
        async with self._pool.acquire() as connection, connection.transaction():
            claimed = await claim_events(
                connection,
                consumer_group=self.group,
                event_ids=[item.event.event_id for item in batch if item.event is not None],
            )
            fresh: list[Prepared] = []
            for item in batch:
                if item.event is None:
                    fresh.append(item)
                elif item.event.event_id in claimed:
                    claimed.discard(item.event.event_id)
                    fresh.append(item)
                else:
                    _add(outcomes, "duplicate")
            if fresh:
                _merge(outcomes, await self._handle(fresh, connection, attempt))
        return outcomes

    async def _handle(
        self, fresh: Sequence[Prepared], connection: DbConnection, attempt: int
    ) -> Outcomes:
        subscription = self.subscription
        if isinstance(subscription, BatchSubscription):
            events = [item for item in fresh if item.event is not None]
            if events:
                await subscription.handler(events, connection)
            return _merged(
                {"processed": len(events)}, {"tombstone_skipped": len(fresh) - len(events)}
            )
        outcomes: Outcomes = {}
        for item in fresh:
            _add(outcomes, await self._handle_one(subscription, item, connection, attempt))
        return outcomes

    async def _handle_one(
        self, subscription: Subscription, item: Prepared, connection: DbConnection, attempt: int
    ) -> str:
        record = item.record
        context = MessageContext(
            connection=connection,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempt=attempt,
        )
        with consumer_span(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            group=self.group,
            headers=record.headers,
        ) as span:
            try:
                outcome = await self._call_handler(subscription, item, context)
            except Exception as error:
                mark_failed(span, reason=type(error).__name__)
                raise
            span.set_attribute("relais.outcome", outcome)
            return outcome

    @staticmethod
    async def _call_handler(
        subscription: Subscription, item: Prepared, context: MessageContext
    ) -> str:
        event, key = item.event, item.record.key
        if event is None:
            if subscription.on_tombstone is None or key is None:
                return "tombstone_skipped"
            await subscription.on_tombstone(key, context)
            return "tombstone_applied"
        structlog.contextvars.bind_contextvars(
            correlation_id=event.correlation_id,
            event_id=str(event.event_id),
            event_type=event.event_type,
        )
        try:
            await subscription.handler(event, context)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id", "event_id", "event_type")
        return "processed"

    # -- step 4: commit, and dead letters -------------------------------------------

    async def _commit(self, kafka: AIOKafkaConsumer, fetched: Fetched) -> None:
        offsets = {partition: batch[-1].offset + 1 for partition, batch in fetched.items() if batch}
        try:
            await self._outage().until_done(lambda: kafka.commit(offsets))
        except (CommitFailedError, IllegalStateError):
            # The group rebalanced while the batch was handled: its new owner reads these
            # messages again and the claims make that a no-op.
            log.warning("offset commit refused after a rebalance; messages will be redelivered")

    async def _dead_letter(
        self,
        record: Record,
        *,
        kind: str,
        message: str,
        attempts: int = 1,
        event: Event | None = None,
    ) -> None:
        """Publish the letter, waiting out a Kafka outage; a letter Kafka refuses for
        itself (too large) is sent again without the original value."""

        async def send(note: str = "") -> None:
            await send_dead_letter(
                self._producer,
                record if not note else _without_value(record),
                group=self.group,
                kind=kind,
                message=message + note,
                attempts=attempts,
                event=event,
            )

        try:
            await self._outage().until_done(send)
        except Stopping:
            raise
        except Exception as error:
            note = f" (original value not kept: {type(error).__name__})"
            await self._outage().until_done(lambda: send(note))

    # -- observability ----------------------------------------------------------------

    def _count(self, outcomes: Outcomes) -> None:
        for outcome, count in outcomes.items():
            MESSAGES_CONSUMED.labels(group=self.group, topic=self.topic, outcome=outcome).inc(count)

    async def record_lag(self) -> None:
        """Set the lag of the partitions this member owns; forget those it no longer owns.

        Lag is the high watermark last seen by the fetcher minus the group's committed
        offset (the beginning of the partition while nothing is committed).
        """
        kafka = None if self._stop.is_set() else self._kafka
        owned = set(kafka.assignment()) if kafka is not None else set()
        for partition in self._lag_partitions - owned:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.group, partition.topic, str(partition.partition))
        self._lag_partitions &= owned
        if kafka is None:
            return
        for partition in owned:
            high = kafka.highwater(partition)
            if high is None:
                continue
            committed = await kafka.committed(partition)
            if committed is None:
                committed = (await kafka.beginning_offsets([partition]))[partition]
            CONSUMER_LAG.labels(
                group=self.group, topic=partition.topic, partition=str(partition.partition)
            ).set(max(high - committed, 0))
            self._lag_partitions.add(partition)


LAG_TIMEOUT_S = 5.0
"""Longest one consumer's lag refresh may take: a consumer stopping (or a broker away)
must never hold the service's shutdown for aiokafka's 40 s request timeout."""


async def watch_lag(
    consumers: Sequence[Consumer], *, stop: asyncio.Event, interval_s: float
) -> None:
    """Refresh every consumer's lag until `stop` is set; a failed or slow refresh is
    skipped and tried again next time."""
    while not stop.is_set():
        beat()
        for consumer in consumers:
            if stop.is_set():
                return
            try:
                await asyncio.wait_for(consumer.record_lag(), timeout=LAG_TIMEOUT_S)
            except Exception as error:
                log.debug("consumer lag not refreshed", error=type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


def _without_value(record: Record) -> Any:
    return ConsumerRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=record.timestamp,
        timestamp_type=record.timestamp_type,
        key=record.key,
        value=b"",
        checksum=None,
        serialized_key_size=record.serialized_key_size,
        serialized_value_size=0,
        headers=record.headers,
    )


def _add(outcomes: Outcomes, outcome: str, count: int = 1) -> None:
    if count:
        outcomes[outcome] = outcomes.get(outcome, 0) + count


def _merge(into: Outcomes, other: Outcomes) -> None:
    for outcome, count in other.items():
        _add(into, outcome, count)


def _merged(*parts: Outcomes) -> Outcomes:
    total: Outcomes = {}
    for part in parts:
        _merge(total, part)
    return total
