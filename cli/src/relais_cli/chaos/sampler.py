"""Throughput over time: once a second, what came out of the pipeline so far.

Each sample counts, cumulatively: carrier and order calls accepted by the tracker,
emails in the SMTP catcher's Maildir, actions the merchant stub acted on, and the end
offset of every topic of the registry (None while the broker does not answer).
Recovery after a fault is read from these series (report.recoveries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from relais_cli.chaos.traffic import ChaosMerchantStub, MailWatcher, TrafficStats
from relais_contracts.topics import topic_named


@dataclass(frozen=True)
class Sample:
    at_s: float
    accepted_calls: int
    mails: int
    actions: int
    topics: dict[str, int] | None
    """End offset summed over partitions, by topic; None when the broker did not answer."""
    ready: dict[str, int]
    """/ready status of each service at that time (0: no answer)."""


class Sampler:
    def __init__(
        self,
        *,
        bootstrap: str,
        topics: list[str],
        mail: MailWatcher,
        stub: ChaosMerchantStub,
        traffic: Callable[[], TrafficStats | None],
        ready: Callable[[], dict[str, int]],
        origin: float,
        interval_s: float = 1.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.mail = mail
        self.stub = stub
        self.traffic = traffic
        self.ready = ready
        self.origin = origin
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.stop = threading.Event()

    def run(self) -> None:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        asyncio.run(self._run())

    async def _run(self) -> None:
        consumer: Any = None
        while not self.stop.is_set():
            started = time.monotonic()
            if consumer is None:
                consumer = await self._connect()
            offsets = await self._offsets(consumer) if consumer is not None else None
            if offsets is None and consumer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), 2)
                consumer = None
            self.mail.poll()
            stats = self.traffic()
            ready = await asyncio.to_thread(self.ready)
            self.samples.append(
                Sample(
                    at_s=round(started - self.origin, 2),
                    accepted_calls=len(stats.accepted_at) if stats else 0,
                    mails=self.mail.count(),
                    actions=self.stub.acted_count(),
                    topics=offsets,
                    ready=ready,
                )
            )
            await asyncio.sleep(max(0.05, self.interval_s - (time.monotonic() - started)))
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 2)

    async def _connect(self) -> Any:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, request_timeout_ms=2000, enable_auto_commit=False
        )
        try:
            await asyncio.wait_for(consumer.start(), 2.5)
        except Exception:  # the broker is down: no sample of the topics this time
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 1)
            return None
        return consumer

    async def _offsets(self, consumer: Any) -> dict[str, int] | None:
        from aiokafka import TopicPartition

        try:
            async with asyncio.timeout(2.5):
                partitions = [
                    TopicPartition(topic, partition)
                    for topic in self.topics
                    for partition in range(topic_named(topic).partitions)
                ]
                ends = await consumer.end_offsets(partitions)
        except Exception:
            return None
        totals = dict.fromkeys(self.topics, 0)
        for partition, offset in ends.items():
            totals[partition.topic] += int(offset)
        return totals
