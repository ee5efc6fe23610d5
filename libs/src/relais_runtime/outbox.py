"""Transactional outbox: "write the database and publish" as one atomic step.

Rules:
- a service never publishes a domain event directly: it inserts it into its
  schema's `outbox` table in the same transaction as the state change
  (`enqueue`); a rolled-back transaction publishes nothing;
- the relay publishes committed rows in id order (per partition: in batches, in
  order) and marks them published only after Kafka acknowledged them. A crash
  between publish and mark republishes those rows: delivery is at-least-once and
  every consumer is idempotent on event_id;
- one relay at a time per schema (transaction-scoped advisory lock), so rows of
  one shipment leave in the order they were written;
- the relay is a supervised loop (relais_runtime.supervisor, relais_runtime.passes):
  each pass beats; a pass that fails transiently (`failures.is_transient`: Kafka or
  PostgreSQL unavailable) marks nothing, is logged and retried after a capped backoff
  (its rows are published again: at-least-once); anything else raised goes to the
  supervisor, which logs it and restarts the relay;
- one bad row never blocks the others: a row Kafka can never accept (a record larger
  than one record batch, `MAX_BATCH_BYTES`) is found before anything is sent (a
  broker's refusal would leave the idempotent producer out of sequence for the rows
  after it) and set aside: logged as an error with its outbox id, event id, topic and
  size, left unpublished in the table (never discarded, never purged) and skipped by
  this relay, which goes on with the next rows. The rows after it, of its shipment
  too, still leave. A new process looks at the set-aside rows once more;
- a row with a null value (a schema whose outbox allows it: the tracker's erasures) is
  published as a tombstone: its key with a null value.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaProducer

from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_runtime.db import DbConnection
from relais_runtime.failures import is_transient
from relais_runtime.kafka import MAX_BATCH_BYTES, encode_event, event_headers, send_batched
from relais_runtime.logging import get_logger
from relais_runtime.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED
from relais_runtime.passes import Wakeup, run_passes

log = get_logger(__name__)

NOTIFY_CHANNEL_PREFIX = "relais_outbox_"


def notify_channel(schema: str) -> str:
    return f"{NOTIFY_CHANNEL_PREFIX}{schema}"


async def enqueue(connection: DbConnection, *, topic: Topic, events: Sequence[Event]) -> None:
    """Add events to the outbox inside the caller's transaction (strict to write)."""
    for event in events:
        if not isinstance(event, topic.message_types):
            raise TypeError(f"{type(event).__name__} is not a message of topic {topic.name}")
    await connection.executemany(
        "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, $5)",
        [
            (
                event.event_id,
                topic.name,
                event.partition_key(),
                encode_event(event),
                json.dumps({name: value.decode() for name, value in event_headers(event)}),
            )
            for event in events
        ],
    )


async def forget_key(connection: DbConnection, *, key: bytes) -> int:
    """Delete this schema's outbox rows with this Kafka key, published or not; returns
    how many. For an erased shipment (a tombstone on relais.shipment-state.v1): its
    events carry personal data, and an unpublished one is about a shipment every service
    is forgetting."""
    result: str = await connection.execute("DELETE FROM outbox WHERE key = $1", key)
    return int(result.split()[-1])


class OutboxRelay:
    """Publishes committed outbox rows to Kafka; woken by NOTIFY, polls as a fallback."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        schema: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self.set_aside: dict[int, int] = {}
        """Outbox ids of the rows too large for Kafka, with their size in bytes."""

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were published."""
        _, published = await self._relay_batch()
        return published

    async def _relay_batch(self) -> tuple[int, int]:
        """Publish one batch; returns (rows taken, rows published). The difference is
        the rows set aside (see the module's rules)."""
        async with self._pool.acquire() as connection, connection.transaction():
            # The lock and the rows in one round trip: the lock is tried once (an
            # InitPlan); when another relay holds it, no row is read.
            rows = await connection.fetch(
                "WITH relay AS MATERIALIZED"
                " (SELECT pg_try_advisory_xact_lock(hashtext($3)) AS locked)"
                " SELECT id, event_id, topic, key, value, headers FROM outbox"
                " WHERE (SELECT locked FROM relay)"
                " AND published_at IS NULL AND id <> ALL($2::bigint[]) ORDER BY id LIMIT $1",
                self._batch_size,
                list(self.set_aside),
                f"relais-outbox-{self._schema}",
            )
            if not rows:
                OUTBOX_BACKLOG.labels(schema=self._schema).set(0)
                return 0, 0
            published = [row for row in rows if self._fits(row)]
            # Every row is handed to the producer, in record batches per partition,
            # before any acknowledgement is awaited; rows are marked once all are acked.
            futures = await send_batched(
                self._producer,
                ((row["topic"], row["key"], row["value"], _headers(row)) for row in published),
            )
            await asyncio.gather(*futures)
            await connection.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in published],
            )
        for topic, count in Counter(row["topic"] for row in published).items():
            OUTBOX_PUBLISHED.labels(schema=self._schema, topic=topic).inc(count)
        OUTBOX_BACKLOG.labels(schema=self._schema).set(
            len(rows) if len(rows) == self._batch_size else 0
        )
        return len(rows), len(published)

    def _fits(self, row: asyncpg.Record) -> bool:
        """Whether Kafka can take this row; sets it aside (logged) when it cannot."""
        headers = sum(len(name) + len(value) for name, value in _headers(row))
        size = len(row["key"] or b"") + len(row["value"] or b"") + headers
        if size <= MAX_BATCH_BYTES:
            return True
        self.set_aside[row["id"]] = size
        log.error(
            "outbox row too large for Kafka, set aside",
            schema=self._schema,
            outbox_id=row["id"],
            event_id=str(row["event_id"]),
            topic=row["topic"],
            size=size,
            limit=MAX_BATCH_BYTES,
        )
        return False

    async def purge_published(self, *, older_than_s: float = 24 * 3600) -> int:
        async with self._pool.acquire() as connection:
            result: str = await connection.execute(
                "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
                older_than_s,
            )
        return int(result.split()[-1])

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set, then publish what is left once more (unless the
        infrastructure is down: the rows wait for the next start)."""

        async def one_pass() -> bool:
            taken, _ = await self._relay_batch()
            return taken == self._batch_size

        await run_passes(
            loop="outbox-relay",
            stop=stop,
            one_pass=one_pass,
            idle_s=self._poll_interval_s,
            wakeup=Wakeup(self._pool, self._channel),
        )
        try:
            while (await self._relay_batch())[0]:
                pass
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("outbox left for the next start", error=type(error).__name__)

    async def _channel(self, _connection: DbConnection) -> str:
        return notify_channel(self._schema)


def _headers(row: asyncpg.Record) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in json.loads(row["headers"]).items()]
