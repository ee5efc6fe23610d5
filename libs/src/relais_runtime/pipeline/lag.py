"""Consumer lag as a gauge: what each member owns, forgotten when it no longer owns it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from relais_runtime.logging import get_logger
from relais_runtime.metrics import CONSUMER_LAG
from relais_runtime.supervisor import beat

log = get_logger("relais_runtime.pipeline")

LAG_TIMEOUT_S = 5.0
"""Longest one consumer's lag refresh may take: a consumer stopping (or a broker away)
must never hold the service's shutdown for aiokafka's 40 s request timeout."""


class LagGauge:
    """Lag is the high watermark last seen by the fetcher minus the group's committed
    offset (the beginning of the partition while nothing is committed)."""

    def __init__(self, group: str) -> None:
        self._group = group
        self._partitions: set[TopicPartition] = set()

    async def record(self, kafka: AIOKafkaConsumer | None) -> None:
        owned = set(kafka.assignment()) if kafka is not None else set()
        for partition in self._partitions - owned:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self._group, partition.topic, str(partition.partition))
        self._partitions &= owned
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
                group=self._group, topic=partition.topic, partition=str(partition.partition)
            ).set(max(high - committed, 0))
            self._partitions.add(partition)


class RecordsLag(Protocol):
    async def record_lag(self) -> None: ...


async def watch_lag(
    consumers: Sequence[RecordsLag], *, stop: asyncio.Event, interval_s: float
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
