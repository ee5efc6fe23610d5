"""A retry tier waits for each command's due time without holding back other partitions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from relais_actions.bootstrap import MIGRATIONS_DIR
from relais_actions.domain.policy import Execute, decide, source_of_resolution
from relais_actions.handlers import due_time
from relais_contracts.envelope import Event
from relais_contracts.topics import action_commands
from relais_contracts.topics.action_commands import ExecuteAction
from relais_runtime.clock import SystemClock
from relais_runtime.consumer import MessageContext, RetryPolicy, Subscription
from relais_runtime.db import create_pool
from relais_runtime.kafka import make_producer
from relais_runtime.migrations import migrate
from relais_runtime.pipeline import Consumer
from relais_runtime.settings import RuntimeSettings
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually
from tests.unit.actions.factories import (
    actions_section,
    anomaly_detected,
    merchant,
    new_shipment_id,
    resolution_chosen,
)


def command(*, not_before: datetime) -> ExecuteAction:
    anomaly = anomaly_detected(merchant_id="shop-a", shipment_id=new_shipment_id())
    source = source_of_resolution(resolution_chosen(anomaly), shipment=anomaly.shipment)
    assert source is not None
    decision = decide(source, config=merchant("shop-a", actions=actions_section()).actions)
    assert isinstance(decision, Execute)
    return decision.command.model_copy(
        update={"event_id": uuid4(), "attempt": 2, "not_before": not_before}
    )


async def test_a_partition_not_due_is_paused_while_the_others_flow(
    infrastructure: Infrastructure,
    schema: str,
    unique: str,
    new_topic: Callable[..., Any],
) -> None:
    name = await new_topic(f"test-retry-tier-{unique}", partitions=2)
    topic = replace(action_commands.RETRY_TOPICS[0], name=name)
    handled: dict[UUID, float] = {}

    async def handler(event: Event, context: MessageContext) -> None:
        handled[event.event_id] = time.monotonic()

    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    await migrate(database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS_DIR)
    pool = await create_pool(database_url=settings.database_url, schema=schema)
    producer = make_producer(settings, client_id="test-retry-tier")
    await producer.start()
    now, started = datetime.now(UTC), time.monotonic()
    later_due = started + 5.0
    later = command(not_before=now + timedelta(seconds=5))
    behind_it = command(not_before=now - timedelta(seconds=1))
    due = command(not_before=now)
    tier = Consumer(
        subscription=Subscription(
            topic, f"test-{unique}.tier", handler, max_records=1, due_at=due_time
        ),
        pool=pool,
        producer=producer,
        retry=RetryPolicy(),
        bootstrap=infrastructure.kafka_bootstrap,
        clock=SystemClock(),
        fetch_timeout_ms=200,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(tier.run(stop))
    try:
        for event, partition in ((later, 0), (behind_it, 0), (due, 1)):
            key, value = topic.encode(event)
            await producer.send_and_wait(name, value=value, key=key, partition=partition)

        async def handled_all() -> bool:
            return len(handled) == 3

        assert await eventually(handled_all, timeout_s=30, interval_s=0.05)
    finally:
        stop.set()
        await running
        await producer.stop()
        await pool.close()

    # Joining the group may take a few seconds; the due command must still come well
    # before the head of the other partition is due.
    assert handled[due.event_id] < later_due - 1.0, "the due partition was held back"
    assert handled[later.event_id] >= later_due - 0.05, "handled before its due time"
    assert handled[behind_it.event_id] >= handled[later.event_id], "partition order broken"
