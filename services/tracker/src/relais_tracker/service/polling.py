"""Polling carriers' tracking APIs: the loop (the clients are relais_tracker.adapters.pull,
one per carrier API, and the generic relais_tracker.adapters.carrier_poller).

Rules:
- only shipments that are not final and have a tracking number of a polled carrier
  are polled, each when it is due by the schedule (relais_tracker.domain.polling: more
  often out for delivery or when its promise is near), never polled and longest
  overdue first;
- calls are rate limited and retried by the clients; a 404 means the carrier knows
  nothing yet (not an error); a request the carrier refuses for this shipment
  (`PollRejected`) is counted (`outcome="rejected"`) and logged with the carrier, the
  HTTP status and the carrier's error code only (no tracking number, no answer body),
  and the shipment is polled again at its next turn;
- what a poll fetched is published raw to the carrier-updates topic
  (CarrierUpdateReceived, source=poll, the merchant and tracking number known) and
  goes through the same normalization path as webhooks; the shipment is marked
  polled only after Kafka acknowledged it;
- a poll that still fails after its retries is counted and logged (without the
  tracking number) and retried at the next interval: polling never stops the loop;
- one bad shipment never blocks the others: a poll that raises anything the
  infrastructure is not to blame for (`failures.is_transient`), such as an answer that
  cannot make a valid CarrierUpdateReceived, is counted (`outcome="error"`), logged
  with the exception type only, marked polled (tried again at the next interval) and
  the pass goes on with the next shipment;
- a transient failure (database or Kafka unavailable) ends the pass, leaving that
  shipment unmarked; the loop logs it and backs off (capped, relais_runtime.passes);
  each pass and each shipment polled beats (relais_runtime.supervisor); anything else
  the loop raises goes to the supervisor, which restarts it: the poller is closed
  only when polling stops for good (stop or cancellation), so a restarted loop keeps
  using it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

import asyncpg
from aiokafka import AIOKafkaProducer

from relais_contracts.registry import Topic
from relais_contracts.topics.carrier_updates import (
    MAX_PAYLOAD_CHARS,
    CarrierUpdateReceived,
    UpdateSource,
)
from relais_runtime.failures import is_transient
from relais_runtime.kafka import publish_events
from relais_runtime.logging import get_logger
from relais_runtime.metrics import CARRIER_POLLS
from relais_runtime.passes import run_passes
from relais_runtime.supervisor import beat
from relais_tracker import repository
from relais_tracker.adapters.carrier_poller import (
    CarrierPoller,
    FetchedPayload,
    PollError,
    PollRejected,
)
from relais_tracker.domain.payloads import payload_text
from relais_tracker.domain.polling import PollSchedule

log = get_logger(__name__)


class PollOutcome(StrEnum):
    """The `outcome` label of relais_carrier_polls_total."""

    FETCHED = "fetched"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    REJECTED = "rejected"
    TOO_LARGE = "too_large"
    ERROR = "error"


class PollingLoop:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topic: Topic,
        poller: CarrierPoller,
        carriers: tuple[str, ...],
        schedule: PollSchedule,
        batch: int,
        now: Callable[[], datetime],
        idle_s: float = 5.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._topic = topic
        self._poller = poller
        self._carriers = carriers
        self._schedule = schedule
        self._batch = batch
        self._now = now
        self._idle_s = idle_s

    async def poll_due(self) -> int:
        """Poll every shipment that is due (one batch); returns how many were polled."""
        async with self._pool.acquire() as connection:
            targets = await repository.list_shipments_to_poll(
                connection,
                carriers=self._carriers,
                plan=self._schedule.plan(self._now()),
                limit=self._batch,
            )
        for target in targets:
            beat()  # a pass can be long (rate limit, retries): every shipment is progress
            try:
                await self.poll_one(target)
            except Exception as error:
                if is_transient(error):
                    raise
                await self._set_aside(target, error)
        return len(targets)

    async def _set_aside(self, target: repository.PollTarget, error: Exception) -> None:
        """A shipment whose poll failed for its own reason: counted, logged, and marked
        polled so that it is tried again at the next interval, not at every pass."""
        CARRIER_POLLS.labels(carrier=target.carrier, outcome=PollOutcome.ERROR).inc()
        log.warning(
            "carrier poll could not be handled",
            carrier=target.carrier,
            merchant_id=target.merchant_id,
            error=type(error).__name__,
        )
        await self._mark_polled(target)

    async def _mark_polled(self, target: repository.PollTarget) -> None:
        async with self._pool.acquire() as connection:
            await repository.update_polled_at(
                connection,
                merchant_id=target.merchant_id,
                shipment_id=target.shipment_id,
                polled_at=self._now(),
            )

    async def poll_one(self, target: repository.PollTarget) -> None:
        try:
            fetched = await self._poller.fetch(
                carrier=target.carrier, tracking_number=target.tracking_number
            )
        except PollRejected as error:
            CARRIER_POLLS.labels(carrier=target.carrier, outcome=PollOutcome.REJECTED).inc()
            log.warning(
                "carrier poll skipped: the carrier refused this shipment's request",
                carrier=target.carrier,
                merchant_id=target.merchant_id,
                status=error.status,
                carrier_error=error.code,
            )
            fetched = None
        except PollError as error:
            CARRIER_POLLS.labels(carrier=target.carrier, outcome=PollOutcome.FAILED).inc()
            log.warning("carrier poll failed", carrier=target.carrier, error=str(error)[:200])
            fetched = None
        else:
            CARRIER_POLLS.labels(
                carrier=target.carrier,
                outcome=PollOutcome.FETCHED if fetched else PollOutcome.NOT_FOUND,
            ).inc()
        if fetched is not None:
            await self._publish(target, fetched)
        await self._mark_polled(target)

    async def _publish(self, target: repository.PollTarget, fetched: FetchedPayload) -> None:
        received_at = self._now()
        payload, encoding = payload_text(fetched.body)
        if len(payload) > MAX_PAYLOAD_CHARS:
            CARRIER_POLLS.labels(carrier=target.carrier, outcome=PollOutcome.TOO_LARGE).inc()
            log.warning("carrier poll answer too large", carrier=target.carrier)
            return
        update = CarrierUpdateReceived(
            occurred_at=received_at,
            produced_at=received_at,
            merchant_id=target.merchant_id,
            correlation_id=target.shipment_id,
            carrier=target.carrier,
            source=UpdateSource.POLL,
            received_at=received_at,
            content_type=fetched.content_type[:200],
            encoding=encoding,
            payload=payload,
            tracking_number=target.tracking_number,
            endpoint=f"poll:{target.carrier}",
        )
        await publish_events(self._producer, topic=self._topic.name, events=[update])

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; a pass the infrastructure made fail is logged and
        retried after a capped backoff; anything else raised goes to the supervisor."""

        async def one_pass() -> bool:
            return await self.poll_due() >= self._batch

        crashed = False
        try:
            await run_passes(
                loop="carrier-polling", stop=stop, one_pass=one_pass, idle_s=self._idle_s
            )
        except Exception:
            crashed = True  # the supervisor restarts this loop: the poller stays open
            raise
        finally:
            if not crashed:
                await self._poller.aclose()
