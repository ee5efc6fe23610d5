"""One subscription's run: fetch, hold what is not due, decode, claim and handle, commit.

While one batch is handled, the next one is fetched and decoded (CPU overlaps the
database), never handled: batches are handled one after another, and their offsets
committed in the same order. A batch's offset commit (a Kafka round trip) runs while
the next batch is handled; at most one commit is outstanding, and the batch after
waits for it before committing its own (a crash in between redelivers both batches,
which their claims make no-ops). On stop the last commit is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, IllegalStateError

from relais_runtime.clock import Clock
from relais_runtime.consumer import (
    AnySubscription,
    Prepared,
    RetryPolicy,
    Subscription,
)
from relais_runtime.logging import get_logger
from relais_runtime.metrics import CONSUMER_BATCH_SIZE, HANDLER_SECONDS, MESSAGES_CONSUMED
from relais_runtime.pipeline.dead_letter import DeadLetterer
from relais_runtime.pipeline.decode import Decoding
from relais_runtime.pipeline.due import DueGate
from relais_runtime.pipeline.handle import Handling
from relais_runtime.pipeline.lag import LagGauge
from relais_runtime.pipeline.outage import Outage, Stopping
from relais_runtime.pipeline.outcomes import Fetched, Outcomes, Record, merged
from relais_runtime.supervisor import Supervisor, beat

log = get_logger("relais_runtime.pipeline")


class Consumer:
    """Runs one subscription through the pipeline (relais_runtime.pipeline)."""

    def __init__(
        self,
        *,
        subscription: AnySubscription,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        retry: RetryPolicy,
        bootstrap: str,
        security: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        supervisor: Supervisor | None = None,
        fetch_timeout_ms: int = 500,
        top_up_ms: int = 5,
    ) -> None:
        self.subscription = subscription
        self._gate = _due_gate(subscription, clock)
        self._retry = retry
        self._bootstrap = bootstrap
        self._security = dict(security or {})
        """aiokafka security options (relais_runtime.kafka_security)."""
        self._supervisor = supervisor
        self._fetch_timeout_ms = fetch_timeout_ms
        self._top_up_ms = top_up_ms
        self._stop = asyncio.Event()
        self._kafka: AIOKafkaConsumer | None = None
        self._committing: asyncio.Task[None] | None = None
        """The offset commit of the last batch handled, while it runs."""
        self._lag = LagGauge(self.group)
        self._dead_letters = DeadLetterer(producer=producer, group=self.group)
        self._decoding = Decoding(
            subscription=subscription, group=self.group, dead_letters=self._dead_letters
        )
        self._handling = Handling(
            subscription=subscription,
            pool=pool,
            retry=retry,
            outage=self._outage,
            dead_letters=self._dead_letters,
        )

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
            max_partition_fetch_bytes=self.subscription.prefetch_partition_bytes,
            **self._security,
        )
        await self._outage().until_done(kafka.start)
        self._kafka = kafka
        try:
            await self._consume(kafka, stop)
        except Stopping:
            log.info("consumer stopped during an outage; uncommitted messages come again")
        finally:
            self._kafka = None
            if self._gate is not None:
                self._gate.forget()
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
                        self._apply_and_commit(kafka, fetched, decoded[0], size=len(records))
                    )
            if in_flight is not None:
                await in_flight
                in_flight = None
            await self._committed()
        finally:
            if in_flight is not None:
                # Leaving on a failure: let the batch being applied end before the
                # consumer closes (its commit may fail; it is then redelivered).
                with contextlib.suppress(Exception):
                    await in_flight
            with contextlib.suppress(Exception):
                await self._committed()

    async def process(self, records: Sequence[Record]) -> Outcomes:
        """Decode and apply records without committing (tests, benchmarks)."""
        ready, outcomes = await self._decode(records)
        return merged(outcomes, await self.apply(ready))

    # -- step 1: fetch, holding back what is not due ----------------------------------

    async def _fetch(self, kafka: AIOKafkaConsumer) -> Fetched:
        """Up to `max_records`: what the first fetch brings, topped up with what is
        already buffered (one broker response is often a few dozen messages)."""
        timeout_ms = self._fetch_timeout_ms
        if self._gate is not None:
            self._gate.resume_due(kafka)
            timeout_ms = self._gate.poll_timeout_ms(timeout_ms)
        limit = self.subscription.max_records
        fetched: Fetched = await kafka.getmany(timeout_ms=timeout_ms, max_records=limit)
        size = sum(len(batch) for batch in fetched.values())
        while 0 < size < limit:
            more = await kafka.getmany(timeout_ms=self._top_up_ms, max_records=limit - size)
            if not more:
                break
            for partition, batch in more.items():
                fetched.setdefault(partition, []).extend(batch)
                size += len(batch)
        return fetched if self._gate is None else self._gate.hold_not_due(kafka, fetched)

    # -- step 2: decode (relais_runtime.pipeline.decode) -------------------------------

    async def _decode(self, records: Sequence[Record]) -> tuple[list[Prepared], Outcomes]:
        ready, outcomes = await self._decoding.decode(records, self._outage())
        self._count(outcomes)
        return ready, outcomes

    # -- step 3: claim and handle (relais_runtime.pipeline.handle) ----------------------

    async def _apply_and_commit(
        self, kafka: AIOKafkaConsumer, fetched: Fetched, ready: list[Prepared], *, size: int
    ) -> None:
        started = time.perf_counter()
        CONSUMER_BATCH_SIZE.labels(group=self.group, topic=self.topic).observe(size)
        await self.apply(ready)
        HANDLER_SECONDS.labels(group=self.group, topic=self.topic).observe(
            (time.perf_counter() - started) / max(size, 1)
        )
        await self._committed()
        self._committing = asyncio.create_task(self._commit(kafka, fetched))

    async def _committed(self) -> None:
        """Wait for the outstanding offset commit, if any (raises what it raised)."""
        committing, self._committing = self._committing, None
        if committing is not None:
            await committing

    async def apply(self, ready: Sequence[Prepared]) -> Outcomes:
        """Handle prepared messages in one transaction (or one by one after a failure)."""
        outcomes = await self._handling.apply(ready)
        self._count(outcomes)
        return outcomes

    # -- step 4: commit ---------------------------------------------------------------

    async def _commit(self, kafka: AIOKafkaConsumer, fetched: Fetched) -> None:
        offsets = {partition: batch[-1].offset + 1 for partition, batch in fetched.items() if batch}
        try:
            await self._outage().until_done(lambda: kafka.commit(offsets))
        except (CommitFailedError, IllegalStateError):
            # The group rebalanced while the batch was handled: its new owner reads these
            # messages again and the claims make that a no-op.
            log.warning("offset commit refused after a rebalance; messages will be redelivered")

    # -- observability ----------------------------------------------------------------

    def _count(self, outcomes: Outcomes) -> None:
        for outcome, count in outcomes.items():
            MESSAGES_CONSUMED.labels(group=self.group, topic=self.topic, outcome=outcome).inc(count)

    async def record_lag(self) -> None:
        """Set the lag of the partitions this member owns; forget those it no longer owns."""
        await self._lag.record(None if self._stop.is_set() else self._kafka)


def _due_gate(subscription: AnySubscription, clock: Clock | None) -> DueGate | None:
    due = subscription.due_at if isinstance(subscription, Subscription) else None
    if due is None:
        return None
    if clock is None:
        raise ValueError("a subscription with a due time needs a clock")
    return DueGate(due=due, clock=clock, topic=subscription.topic)
