"""One actions service for the module, real Kafka and PostgreSQL, merchants played by HTTP.

The service is started once per test module (one consumer group): each test uses its
own merchants (unique ids, own endpoint path, own generated secret), so tests never
see each other's actions, and the shared topics' history is read once.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from relais_actions.bootstrap import build_spec
from relais_actions.domain.ids import result_event_id
from relais_actions.settings import ActionsSettings
from relais_contracts.envelope import Event
from relais_contracts.topics import action_results, anomalies, conversations
from relais_contracts.topics.action_results import ActionCompleted, ActionFailed
from relais_contracts.topics.anomalies import AnomalyDetected
from relais_runtime.kafka import publish_events
from relais_runtime.service import RunningService
from tests.conftest import Infrastructure
from tests.integration.actions.merchant_server import (
    MerchantServer,
    free_port,
    running_merchant_server,
)
from tests.integration.conftest import eventually
from tests.unit.actions.factories import actions_section, write_merchant

RETRY_DELAYS_S = (0.2, 0.4, 1.5)
"""Base delays of the three retry tiers in these tests (production: 30 s, 5 min, 30 min)."""


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    path: str
    secret: str


MERCHANTS: dict[str, dict[str, Any]] = {
    "ok": {
        "automatic": (
            {
                "anomaly_types": ["lost"],
                "action": "reship",
                "max_order_value": {"amount": "60.00", "currency": "EUR"},
            },
        )
    },
    "flaky": {"max_attempts": 4},
    "slow": {"timeout_s": 0.5},
    "reject": {},
    "down": {"max_attempts": 3},
    "breaker": {"max_attempts": 6, "failure_threshold": 2, "cool_down_s": 1.5},
    "tenant-a": {},
    "tenant-b": {},
}


@dataclass
class ActionsHarness:
    settings: ActionsSettings
    schema: str
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    server: MerchantServer
    merchants: dict[str, Merchant]

    async def publish(self, topic: str, *events: Event) -> None:
        await publish_events(self.producer, topic=topic, events=list(events))

    async def open_anomaly(self, detected: AnomalyDetected) -> None:
        """Publish an anomaly and wait until the service has its shipment snapshot."""
        await self.publish(anomalies.TOPIC.name, detected)

        async def stored() -> object:
            return await self.pool.fetchval(
                "SELECT 1 FROM anomalies WHERE merchant_id = $1 AND anomaly_id = $2",
                detected.merchant_id,
                detected.anomaly_id,
            )

        assert await eventually(stored, timeout_s=30), "the anomaly never reached the service"

    async def choose(self, *events: Event) -> None:
        await self.publish(conversations.TOPIC.name, *events)

    async def result(
        self, action_id: UUID, *, timeout_s: float = 30
    ) -> ActionCompleted | ActionFailed:
        """The action's one result, as committed to the outbox (hence published)."""

        async def committed() -> bytes | None:
            value: bytes | None = await self.pool.fetchval(
                "SELECT value FROM outbox WHERE event_id = $1 AND topic = $2",
                result_event_id(action_id),
                action_results.TOPIC.name,
            )
            return value

        raw = await eventually(committed, timeout_s=timeout_s)
        assert raw is not None, f"no result for action {action_id}"
        event = action_results.TOPIC.decode(raw)
        assert isinstance(event, ActionCompleted | ActionFailed)
        return event

    async def attempts(self, action_id: UUID) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT attempt, called, outcome, http_status FROM attempts"
                " WHERE action_id = $1 ORDER BY attempt",
                action_id,
            )
        )


@pytest.fixture(scope="module")
async def actions(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ActionsHarness]:
    unique = uuid.uuid4().hex[:10]
    schema = f"test_actions_{unique}"
    directory: Path = tmp_path_factory.mktemp("merchants")
    environ: dict[str, str] = {}
    merchants: dict[str, Merchant] = {}
    async with running_merchant_server() as server:
        for name, options in MERCHANTS.items():
            merchant_id = f"{name}-{unique}"
            variable = f"TEST_SECRET_{name.upper().replace('-', '_')}"
            environ[variable] = secrets.token_hex(32)
            merchants[name] = Merchant(merchant_id, f"/{name}", environ[variable])
            section = actions_section(
                url=f"{server.base_url}/{name}", secret_env=variable, **options
            )
            write_merchant(directory, merchant_id, actions=section)
        settings = ActionsSettings(
            kafka_bootstrap=infrastructure.kafka_bootstrap,
            database_url=infrastructure.database_url,
            http_port=free_port(),
            consumer_group_prefix=f"test-{unique}.",
            consumer_max_attempts=3,
            consumer_backoff_initial_s=0.05,
            consumer_backoff_max_s=0.2,
            outbox_poll_interval_s=0.1,
            merchants_dir=directory,
            retry_delays_s=RETRY_DELAYS_S,
        )
        async with httpx.AsyncClient() as http:
            spec = build_spec(settings=settings, http=http, environ=environ)
            service = RunningService(replace(spec, schema=schema), settings)
            await service.start()
            pool = await asyncpg.create_pool(
                infrastructure.database_url, server_settings={"search_path": schema}
            )
            producer = AIOKafkaProducer(
                bootstrap_servers=infrastructure.kafka_bootstrap, enable_idempotence=True
            )
            await producer.start()
            try:
                yield ActionsHarness(settings, schema, pool, producer, server, merchants)
            finally:
                await producer.stop()
                await service.stop()
                await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                await pool.close()
