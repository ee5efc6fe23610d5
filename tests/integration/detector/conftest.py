"""A real detector (Kafka, PostgreSQL, outbox relay, consumers, sweeper) on a ManualClock,
with throw-away topics, and a second sweeper on its own pool (another instance)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from relais_contracts.envelope import Event
from relais_contracts.topics import action_results, anomalies, shipment_state
from relais_contracts.topics.anomalies import AnomalyEvent
from relais_detector.bootstrap import build_spec, policy_book, wire
from relais_detector.handlers import Detector
from relais_detector.service import DetectorTopics, Sweeper
from relais_detector.settings import DetectorSettings
from relais_runtime.clock import ManualClock
from relais_runtime.db import create_pool
from relais_runtime.kafka import make_producer, publish_events
from relais_runtime.service import RunningService
from tests.conftest import REPO_ROOT, Infrastructure, free_port
from tests.integration.conftest import eventually, read_topic

MERCHANTS_DIR = Path(REPO_ROOT) / "deploy" / "merchants"


@dataclass
class DetectorHarness:
    infrastructure: Infrastructure
    schema: str
    unique: str
    clock: ManualClock
    topics: DetectorTopics
    producer: AIOKafkaProducer
    pool: asyncpg.Pool

    def settings(self, **overrides: Any) -> DetectorSettings:
        return DetectorSettings(
            kafka_bootstrap=self.infrastructure.kafka_bootstrap,
            database_url=self.infrastructure.database_url,
            http_port=free_port(),
            consumer_group_prefix=f"test-{self.unique}.",
            merchants_dir=MERCHANTS_DIR,
            sweep_interval_s=overrides.pop("sweep_interval_s", 3600),
            outbox_poll_interval_s=0.1,
            **overrides,
        )

    @asynccontextmanager
    async def service(self, **overrides: Any) -> AsyncIterator[RunningService]:
        """A detector instance on this harness's schema, clock and topics."""
        spec = replace(
            build_spec(),
            schema=self.schema,
            wire=partial(wire, clock=self.clock, topics=self.topics),
        )
        service = RunningService(spec, self.settings(**overrides))
        await service.start()
        try:
            yield service
        finally:
            await service.stop()

    def sweeper(self, pool: asyncpg.Pool | None = None, *, batch_size: int = 200) -> Sweeper:
        """A sweeper outside the service: another instance, or the test driving time."""
        detector = Detector(
            clock=self.clock, policies=policy_book(MERCHANTS_DIR), topics=self.topics
        )
        return Sweeper(pool=pool or self.pool, detector=detector, batch_size=batch_size)

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish to the detector's input topics; returns once Kafka acknowledged all."""
        states = [e for e in events if isinstance(e, shipment_state.ShipmentStateChanged)]
        results = [e for e in events if not isinstance(e, shipment_state.ShipmentStateChanged)]
        for topic, batch in (
            (self.topics.shipment_state, states),
            (self.topics.action_results, results),
        ):
            if batch:
                await publish_events(self.producer, topic=topic.name, events=batch)

    async def processed(self, event_ids: Sequence[UUID], *, timeout_s: float = 20) -> None:
        """Wait until the detector's consumers committed every one of these events."""

        async def done() -> bool:
            count = await self.pool.fetchval(
                "SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])",
                list(event_ids),
            )
            return bool(count == len(set(event_ids)))

        assert await eventually(done, timeout_s=timeout_s, interval_s=0.02), "not consumed in time"

    async def next_due(self) -> datetime | None:
        due: datetime | None = await self.pool.fetchval("SELECT min(due_at) FROM timers")
        return due

    async def published(self, *, timeout_s: float = 30) -> list[AnomalyEvent]:
        """Every event the detector wrote, read back from Kafka once the outbox drained."""

        async def drained() -> bool:
            left = await self.pool.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            return bool(left == 0)

        assert await eventually(drained, timeout_s=timeout_s, interval_s=0.05)
        expected = await self.pool.fetchval("SELECT count(*) FROM outbox")
        records = await read_topic(
            self.infrastructure.kafka_bootstrap,
            self.topics.anomalies.name,
            until=lambda found: len(found) >= expected,
            timeout_s=timeout_s,
        )
        events = [anomalies.TOPIC.decode(record.value) for record in records]
        return events  # type: ignore[return-value]


@pytest.fixture
async def detector(
    infrastructure: Infrastructure, schema: str, unique: str, new_topic: Callable[..., Any]
) -> AsyncIterator[DetectorHarness]:
    topics = DetectorTopics(
        shipment_state=replace(
            shipment_state.TOPIC, name=await new_topic(f"test-{unique}.shipment-state")
        ),
        action_results=replace(
            action_results.TOPIC, name=await new_topic(f"test-{unique}.action-results")
        ),
        anomalies=replace(anomalies.TOPIC, name=await new_topic(f"test-{unique}.anomalies")),
    )
    settings = DetectorSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    producer = make_producer(settings, client_id=f"test-{unique}")
    await producer.start()
    # The schema and its tables exist once a service has migrated it.
    from relais_runtime.migrations import migrate

    await migrate(
        database_url=infrastructure.database_url,
        schema=schema,
        versions_dir=build_spec().migrations_dir,
    )
    pool = await create_pool(database_url=infrastructure.database_url, schema=schema)
    try:
        yield DetectorHarness(
            infrastructure=infrastructure,
            schema=schema,
            unique=unique,
            clock=ManualClock(),
            topics=topics,
            producer=producer,
            pool=pool,
        )
    finally:
        await pool.close()
        await producer.stop()
        await asyncio.sleep(0)
