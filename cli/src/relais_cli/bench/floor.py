"""The infrastructure floor of the tracker's carrier-update path: the same work for Kafka
and PostgreSQL, with no logic.

Per carrier update the tracker, in one transaction per batch, claims the message (one
`processed_events` row), records one tracking event (one row) and writes two outbox rows
(the tracking event and the new shipment state), then publishes those two messages and
commits the batch's offsets. The floor does exactly that much I/O on the same messages:
it reads them with the same consumer settings and batch size, COPYs the same four rows per
message into scratch tables of the same shape (uuid/text/jsonb columns) in one transaction
per batch, produces two messages of the message's size per message, waits for Kafka's
acknowledgements and commits the offsets. What the tracker costs above this figure is its
own logic (decoding, matching, the state machine, validation, serialisation).

PostgreSQL time is measured on the server side: the CPU time (user + system, from
/proc/<pid>/stat) of the backends whose `application_name` is the run's, so the figure
counts what PostgreSQL spent for this path and nothing else on the machine.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from relais_runtime.kafka import make_producer
from relais_runtime.settings import RuntimeSettings

ROWS_PER_EVENT = 4
MESSAGES_PER_EVENT = 2
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")

SCRATCH_TABLES = (
    "CREATE TABLE floor_claims (consumer_group text NOT NULL, event_id uuid NOT NULL,"
    " processed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer_group, event_id))",
    "CREATE TABLE floor_events (event_id uuid PRIMARY KEY, shipment_key text NOT NULL,"
    " payload jsonb NOT NULL)",
    "CREATE TABLE floor_outbox (id bigserial PRIMARY KEY, topic text NOT NULL, key text,"
    " value bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
)


@dataclass
class FloorRun:
    """What one floor pass measured."""

    samples: list[tuple[float, int]]
    process_cpu_s: float
    database_cpu_s: float


async def database_cpu_s(database_url: str, application_name: str) -> float:
    """CPU seconds (user + system) so far of the local PostgreSQL backends of one client.

    Reads the process table directly, so it is only meaningful when PostgreSQL runs on this
    machine (as with `relais infra up`); elsewhere it is 0. Read it before and after a run:
    a backend opened meanwhile started from zero, so the difference is what the run cost.
    """
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application_name
        )
    finally:
        await connection.close()
    return processes_cpu_s(row["pid"] for row in rows)


def processes_cpu_s(pids: Iterable[int]) -> float:
    """CPU seconds (user + system) so far of these local processes (0 for one gone)."""
    return sum(_cpu_ticks(pid) for pid in pids) / TICKS_PER_SECOND


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


async def create_scratch_tables(connection: asyncpg.Connection) -> None:
    for statement in SCRATCH_TABLES:
        await connection.execute(statement)


async def write_batch(
    connection: asyncpg.Connection, *, group: str, topic: str, values: list[bytes]
) -> None:
    """The batch's rows, COPYed in one transaction: a claim, an event, two outbox rows each."""
    ids = [uuid.uuid4() for _ in values]
    async with connection.transaction():
        await connection.copy_records_to_table(
            "floor_claims",
            records=[(group, event_id) for event_id in ids],
            columns=("consumer_group", "event_id"),
        )
        await connection.copy_records_to_table(
            "floor_events",
            records=[(event_id, str(event_id), '{"n": 1}') for event_id in ids],
            columns=("event_id", "shipment_key", "payload"),
        )
        await connection.copy_records_to_table(
            "floor_outbox",
            records=[(topic, None, value) for value in values for _ in range(MESSAGES_PER_EVENT)],
            columns=("topic", "key", "value"),
        )


async def produce_batch(producer: AIOKafkaProducer, *, topic: str, values: list[bytes]) -> None:
    """Two messages per input message, sent without waiting, then every ack awaited."""
    pending = [
        await producer.send(topic, value=value)
        for value in values
        for _ in range(MESSAGES_PER_EVENT)
    ]
    await asyncio.gather(*pending)


async def run_floor(
    settings: RuntimeSettings,
    *,
    source: str,
    sink: str,
    schema: str,
    total: int,
    batch: int,
    progress: Callable[[int], None],
) -> FloorRun:
    """Read `total` messages from `source`, do the floor's writes per batch, and time it."""
    application_name = f"relais-floor-{schema}"
    connection = await asyncpg.connect(
        settings.database_url,
        server_settings={"search_path": schema, "application_name": application_name},
    )
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.consumer_group_prefix}floor",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
    )
    producer = make_producer(settings, client_id="relais-bench-floor")
    await asyncio.gather(consumer.start(), producer.start())
    try:
        await create_scratch_tables(connection)
        database_before = await database_cpu_s(settings.database_url, application_name)
        run = await _consume(
            consumer, producer, connection, sink=sink, total=total, batch=batch, progress=progress
        )
        after = await database_cpu_s(settings.database_url, application_name)
        run.database_cpu_s = after - database_before
        return run
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())
        await connection.close()


async def _consume(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    connection: asyncpg.Connection,
    *,
    sink: str,
    total: int,
    batch: int,
    progress: Callable[[int], None],
) -> FloorRun:
    samples: list[tuple[float, int]] = []
    done, started = 0, time.perf_counter()
    cpu_before = time.process_time()
    while done < total:
        batches = await consumer.getmany(timeout_ms=500, max_records=batch)
        values = [record.value or b"" for records in batches.values() for record in records]
        if not values:
            continue
        if not samples:
            samples.append((time.perf_counter() - started, 0))
        await write_batch(connection, group="floor", topic=sink, values=values)
        await produce_batch(producer, topic=sink, values=values)
        await consumer.commit()
        done += len(values)
        samples.append((time.perf_counter() - started, done))
        progress(done)
    return FloorRun(
        samples=samples,
        process_cpu_s=time.process_time() - cpu_before,
        database_cpu_s=0.0,
    )
