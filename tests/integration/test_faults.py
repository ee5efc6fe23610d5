"""Each failure kind for real: PostgreSQL and the Kafka broker killed while a service runs.

A test service (the runtime's RunningService) consumes two topics, one per message and
one per batch, and republishes through its outbox. While messages flow, the fault is
injected on the local infrastructure `relais infra up` started (relais_cli.infra.faults),
then repaired. Afterwards: every message handled exactly once, nothing dead-lettered,
every outbox event published, `/ready` 503 during the outage and 200 after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from relais_cli.infra import faults
from relais_cli.infra.settings import InfraSettings
from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics import dead_letters
from relais_runtime.consumer import BatchSubscription, MessageContext, Prepared, Subscription
from relais_runtime.db import DbConnection
from relais_runtime.outbox import enqueue
from relais_runtime.service import Dependencies, RunningService, ServiceSpec, Wiring
from relais_runtime.settings import RuntimeSettings
from tests.conftest import Infrastructure, free_port
from tests.integration.conftest import eventually, read_to_end
from tests.integration.harness import MIGRATIONS, ParcelPinged, make_topic, ping

pytestmark = pytest.mark.timeout(240)

PER_PHASE = 30


@dataclass
class FaultBench:
    service: RunningService
    single: Topic
    batch: Topic
    echoes: Topic
    pool: asyncpg.Pool
    ready_url: str


@pytest.fixture
async def bench(
    infrastructure: Infrastructure, schema: str, unique: str, new_topic: Callable[..., Any]
) -> AsyncIterator[FaultBench]:
    if infrastructure.origin != "local":
        pytest.skip("faults are injected on the infrastructure relais infra up started")
    single = make_topic(await new_topic(f"relais.test-faults-single-{unique}.v1", partitions=2))
    batch = make_topic(await new_topic(f"relais.test-faults-batch-{unique}.v1", partitions=2))
    echoes = make_topic(await new_topic(f"relais.test-faults-echo-{unique}.v1", partitions=2))

    async def on_single(event: Event, context: MessageContext) -> None:
        assert isinstance(event, ParcelPinged)
        await _record(context.connection, [event])
        await enqueue(context.connection, topic=echoes, events=[ping(f"echo-{event.note}")])

    async def on_batch(items: Sequence[Prepared], connection: DbConnection) -> None:
        await _record(connection, [item.event for item in items if item.event is not None])

    def wire(_dependencies: Dependencies) -> Wiring:
        return Wiring(
            subscriptions=(
                Subscription(single, "faults.single", on_single),
                BatchSubscription(batch, "faults.batch", on_batch, max_records=10),
            )
        )

    port = free_port()
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        http_port=port,
        consumer_group_prefix=f"test-{unique}.",
        consumer_backoff_initial_s=0.05,
        consumer_backoff_max_s=1.0,
        outbox_poll_interval_s=0.1,
    )
    service = RunningService(
        ServiceSpec(name="faults", schema=schema, migrations_dir=MIGRATIONS, wire=wire), settings
    )
    await service.start()
    pool = await asyncpg.create_pool(
        infrastructure.database_url, server_settings={"search_path": schema}, min_size=0
    )
    try:
        yield FaultBench(service, single, batch, echoes, pool, f"http://127.0.0.1:{port}/ready")
    finally:
        await service.stop()
        await pool.close()


async def _record(connection: DbConnection, events: Sequence[Event]) -> None:
    rows = []
    for event in events:
        assert isinstance(event, ParcelPinged)
        rows.append((event.event_id, event.note))
    await connection.executemany(
        "INSERT INTO handled (event_id, note, attempt) VALUES ($1, $2, 1)", rows
    )


async def publish_phase(producer: AIOKafkaProducer, bench: FaultBench, phase: str) -> None:
    for number in range(PER_PHASE):
        for topic in (bench.single, bench.batch):
            event = ping(f"{phase}-{number}", shipment_id=f"shp-{number % 7}")
            key, value = topic.encode(event)
            await producer.send(topic.name, key=key, value=value)
    await producer.flush()


async def handled_notes(pool: asyncpg.Pool) -> list[str]:
    try:
        return [row["note"] for row in await pool.fetch("SELECT note FROM handled")]
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return []


async def ready_status(url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(url)
    return response.status_code, response.json()


def expected_notes(*phases: str) -> list[str]:
    return sorted(f"{phase}-{n}" for phase in phases for n in range(PER_PHASE) for _ in (1, 2))


async def all_handled(bench: FaultBench, *phases: str) -> bool:
    return sorted(await handled_notes(bench.pool)) == expected_notes(*phases)


async def assert_nothing_lost_or_dead_lettered(
    infrastructure: Infrastructure, bench: FaultBench, *phases: str
) -> None:
    assert await eventually(lambda: all_handled(bench, *phases), timeout_s=90, interval_s=0.5), (
        "every message handled exactly once"
    )
    echoes = {f"echo-{phase}-{n}" for phase in phases for n in range(PER_PHASE)}

    async def echoed() -> bool:
        records = await read_to_end(infrastructure.kafka_bootstrap, bench.echoes.name)
        return {_note(bench.echoes.decode(r.value)) for r in records} == echoes

    assert await eventually(echoed, timeout_s=60, interval_s=1.0), "every outbox row published"
    letters = [
        dead_letters.TOPIC.decode(record.value)
        for record in await read_to_end(infrastructure.kafka_bootstrap, dead_letters.TOPIC.name)
    ]
    ours = {bench.single.name, bench.batch.name}
    assert [
        letter
        for letter in letters
        if isinstance(letter, dead_letters.MessageDeadLettered) and letter.source_topic in ours
    ] == [], "an outage dead-letters nothing"

    async def ready_again() -> bool:
        return (await ready_status(bench.ready_url))[0] == 200

    assert await eventually(ready_again, timeout_s=30), "ready again after the outage"


async def test_a_postgresql_crash_pauses_the_consumers_and_loses_nothing(
    infrastructure: Infrastructure, bench: FaultBench, producer: AIOKafkaProducer
) -> None:
    infra = InfraSettings()
    await publish_phase(producer, bench, "before")
    assert await eventually(lambda: all_handled(bench, "before"), timeout_s=60)

    await faults.kill_postgres(infra)
    try:
        await publish_phase(producer, bench, "during")

        async def not_ready() -> bool:
            status, body = await ready_status(bench.ready_url)
            return status == 503 and body["checks"]["postgresql"] == "failing"

        assert await eventually(not_ready, timeout_s=30)
        await asyncio.sleep(3)  # the consumers keep failing against a stopped database
        status, body = await ready_status(bench.ready_url)
        assert status == 503
        assert any("waiting" in problem for problem in body.get("problems", {}).values())
    finally:
        await faults.restart_postgres(infra)
    await publish_phase(producer, bench, "after")
    await assert_nothing_lost_or_dead_lettered(infrastructure, bench, "before", "during", "after")
    assert all(state.restarts == 0 for state in bench.service.supervisor.states().values()), (
        "an outage pauses the loops, it does not crash them"
    )


async def test_a_killed_kafka_broker_pauses_the_service_and_loses_nothing(
    infrastructure: Infrastructure, bench: FaultBench, producer: AIOKafkaProducer
) -> None:
    infra = InfraSettings()
    await publish_phase(producer, bench, "before")
    assert await eventually(lambda: all_handled(bench, "before"), timeout_s=60)

    await faults.kill_kafka(infra)
    try:

        async def not_ready() -> bool:
            status, body = await ready_status(bench.ready_url)
            return status == 503 and body["checks"]["kafka"] == "failing"

        assert await eventually(not_ready, timeout_s=60)
    finally:
        await faults.restart_kafka(infra)
    await publish_phase(producer, bench, "after")
    await assert_nothing_lost_or_dead_lettered(infrastructure, bench, "before", "after")


def _note(event: Event) -> str:
    assert isinstance(event, ParcelPinged)
    return event.note
