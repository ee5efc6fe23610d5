"""Step 1's gate for subscriptions with a due time (the actions retry tiers).

A partition whose next message is not due is rewound to it and paused until it is;
the other partitions keep flowing. The messages behind a not-due one wait with it:
a partition's order is never broken.
"""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from relais_contracts.registry import Topic
from relais_runtime.clock import Clock
from relais_runtime.consumer import DueTime
from relais_runtime.pipeline.outcomes import Fetched, Record


class DueGate:
    def __init__(self, *, due: DueTime, clock: Clock, topic: Topic) -> None:
        self._due = due
        self._clock = clock
        self._topic = topic
        self._paused: dict[TopicPartition, datetime] = {}

    def hold_not_due(self, kafka: AIOKafkaConsumer, fetched: Fetched) -> Fetched:
        now = self._clock.now()
        for partition, records in fetched.items():
            for index, record in enumerate(records):
                due = self._due_at(record)
                if due is not None and due > now:
                    kafka.seek(partition, record.offset)
                    kafka.pause(partition)
                    self._paused[partition] = due
                    fetched[partition] = records[:index]
                    break
        return {partition: records for partition, records in fetched.items() if records}

    def resume_due(self, kafka: AIOKafkaConsumer) -> None:
        if not self._paused:
            return
        now = self._clock.now()
        assigned = kafka.assignment()
        for partition, due in list(self._paused.items()):
            if partition not in assigned:
                del self._paused[partition]
            elif due <= now:
                del self._paused[partition]
                kafka.resume(partition)

    def poll_timeout_ms(self, default_ms: int) -> int:
        """Wake up when the first paused partition falls due, never later than `default_ms`."""
        if not self._paused:
            return default_ms
        wait = (min(self._paused.values()) - self._clock.now()).total_seconds()
        return int(min(default_ms / 1000, max(0.01, wait)) * 1000)

    def forget(self) -> None:
        self._paused.clear()

    def _due_at(self, record: Record) -> datetime | None:
        """Decoded here and again by the decode step: a record past a not-due one must
        not be dead-lettered before it is fetched again."""
        try:
            event = self._topic.decode(record.value or b"")
        except ValidationError:
            return None  # due now: the decode step dead-letters it
        return self._due(event)
