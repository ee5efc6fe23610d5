"""Retry tiers: a consumer that handles each command once its `not_before` has passed.

Rules:
- it never sleeps on a message: when the head of a partition is not due yet, that
  partition alone is rewound to it (seek) and paused; the other partitions keep
  flowing, and it is resumed once the head is due. Within a tier every message has
  about the same delay, so a message due earlier is never stuck behind the head;
- the wait is a bounded poll (at most `poll_max_s`), so a stop request, a rebalance
  or a scaled clock is noticed promptly;
- a due message goes through the standard consumer policy (`ReliableConsumer.process`:
  decode or dead-letter, claim, one transaction, transient retries), then its offset
  is committed: at-least-once, with exactly-once effects;
- a message whose due time cannot be read is due now (the policy dead-letters it).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from relais_contracts.topics.action_commands import ExecuteAction
from relais_runtime.clock import Clock
from relais_runtime.consumer import ReliableConsumer
from relais_runtime.logging import get_logger
from relais_runtime.offsets import start_new_groups_now

log = get_logger(__name__)


def due_time(consumer: ReliableConsumer, record: ConsumerRecord[Any, Any]) -> datetime | None:
    try:
        event = consumer.subscription.topic.decode(record.value or b"")
    except ValidationError:
        return None
    return event.not_before if isinstance(event, ExecuteAction) else None


class DueTimeConsumer:
    def __init__(
        self,
        *,
        consumer: ReliableConsumer,
        bootstrap: str,
        clock: Clock,
        poll_max_s: float = 1.0,
        start_new_group_now: bool = False,
    ) -> None:
        self._start_new_group_now = start_new_group_now
        self._consumer = consumer
        self._bootstrap = bootstrap
        self._clock = clock
        self._poll_max_s = poll_max_s
        self._paused: dict[TopicPartition, datetime] = {}

    async def run(self, stop: asyncio.Event) -> None:
        if self._start_new_group_now:
            await start_new_groups_now(
                bootstrap=self._bootstrap,
                groups=[(self._consumer.group, self._consumer.subscription.topic.name)],
            )
        kafka = AIOKafkaConsumer(
            self._consumer.subscription.topic.name,
            bootstrap_servers=self._bootstrap,
            group_id=self._consumer.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await kafka.start()
        try:
            while not stop.is_set():
                self._resume_due(kafka)
                batches = await kafka.getmany(timeout_ms=int(self._poll_timeout_s() * 1000))
                for partition, records in batches.items():
                    await self._handle_partition(kafka, partition, records, stop)
        finally:
            await kafka.stop()

    async def _handle_partition(
        self,
        kafka: AIOKafkaConsumer,
        partition: TopicPartition,
        records: list[ConsumerRecord[Any, Any]],
        stop: asyncio.Event,
    ) -> None:
        for record in records:
            if stop.is_set():
                return
            due = due_time(self._consumer, record)
            if due is not None and due > self._clock.now():
                kafka.seek(partition, record.offset)
                kafka.pause(partition)
                self._paused[partition] = due
                return
            await self._consumer.process(record)
            await kafka.commit({partition: record.offset + 1})

    def _resume_due(self, kafka: AIOKafkaConsumer) -> None:
        now = self._clock.now()
        assigned = kafka.assignment()
        for partition, due in list(self._paused.items()):
            if partition not in assigned:
                del self._paused[partition]
            elif due <= now:
                del self._paused[partition]
                kafka.resume(partition)

    def _poll_timeout_s(self) -> float:
        if not self._paused:
            return self._poll_max_s
        wait = (min(self._paused.values()) - self._clock.now()).total_seconds()
        return min(self._poll_max_s, max(0.01, wait))
