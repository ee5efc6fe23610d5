"""Step 3: claim the event ids and run the handler, in one PostgreSQL transaction.

A message whose id the group already claimed is a duplicate and is not handled
again: its effects committed with its claim. After a failure, the batch is
replayed one message per transaction so only the failing message is
dead-lettered; a message waiting for another (`NotYetError`) is tried
`max_attempts` times first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import asyncpg
import structlog

from relais_runtime.consumer import (
    AnySubscription,
    BatchSubscription,
    MessageContext,
    Prepared,
    RetryPolicy,
    Subscription,
    claim_events,
)
from relais_runtime.db import DbConnection
from relais_runtime.dead_letters import DeadLetterKind, describe
from relais_runtime.failures import NotYetError
from relais_runtime.logging import get_logger
from relais_runtime.metrics import HANDLER_RETRIES
from relais_runtime.pipeline.dead_letter import DeadLetterer
from relais_runtime.pipeline.outage import Outage, Stopping
from relais_runtime.pipeline.outcomes import Outcomes, add, merge, merged
from relais_runtime.tracing import batch_consumer_span, consumer_span, mark_failed

log = get_logger("relais_runtime.pipeline")


class Handling:
    def __init__(
        self,
        *,
        subscription: AnySubscription,
        pool: asyncpg.Pool,
        retry: RetryPolicy,
        outage: Callable[[], Outage],
        dead_letters: DeadLetterer,
    ) -> None:
        self._subscription = subscription
        self._group = subscription.group_id
        self._topic = subscription.topic.name
        self._pool = pool
        self._retry = retry
        self._outage = outage
        self._dead_letters = dead_letters

    async def apply(self, ready: Sequence[Prepared]) -> Outcomes:
        """Handle prepared messages in one transaction (or one by one after a failure)."""
        if not ready:
            return {}
        attempts = itertools.count(1)
        try:
            return await self._outage().until_done(lambda: self._transaction(ready, next(attempts)))
        except Stopping:
            raise
        except Exception as error:
            if len(ready) > 1:
                log.warning(
                    "batch failed, replaying it one message at a time",
                    group=self._group,
                    error=type(error).__name__,
                    size=len(ready),
                )
        outcomes: Outcomes = {}
        for item in ready:
            merge(outcomes, await self._apply_alone(item))
        return outcomes

    async def _apply_alone(self, item: Prepared) -> Outcomes:
        outage = self._outage()
        attempts = itertools.count(1)
        attempt = 0
        while True:
            try:
                return await outage.until_done(lambda: self._transaction([item], next(attempts)))
            except Stopping:
                raise
            except NotYetError as error:
                attempt += 1
                if attempt < self._retry.max_attempts:
                    HANDLER_RETRIES.labels(group=self._group, topic=self._topic).inc()
                    await outage.sleep(attempt)
                    continue
                kind, reason = DeadLetterKind.DEPENDENCY_MISSING, describe(error)
            except Exception as error:
                attempt += 1
                kind, reason = DeadLetterKind.HANDLER_FAILED, describe(error)
            log.error("message dead-lettered", group=self._group, kind=kind.value)
            await self._dead_letters.publish(
                outage,
                item.record,
                kind=kind.value,
                message=reason,
                attempts=attempt,
                event=item.event,
            )
            return {"dead_lettered": 1}

    async def _transaction(self, batch: Sequence[Prepared], attempt: int) -> Outcomes:
        outcomes: Outcomes = {}
        async with self._pool.acquire() as connection, connection.transaction():
            claimed = await claim_events(
                connection,
                consumer_group=self._group,
                event_ids=[item.event.event_id for item in batch if item.event is not None],
            )
            fresh: list[Prepared] = []
            for item in batch:
                if item.event is None:
                    fresh.append(item)
                elif item.event.event_id in claimed:
                    claimed.discard(item.event.event_id)
                    fresh.append(item)
                else:
                    add(outcomes, "duplicate")
            if fresh:
                merge(outcomes, await self._handle(fresh, connection, attempt))
        return outcomes

    async def _handle(
        self, fresh: Sequence[Prepared], connection: DbConnection, attempt: int
    ) -> Outcomes:
        subscription = self._subscription
        if isinstance(subscription, BatchSubscription):
            events = [item for item in fresh if item.event is not None]
            if events:
                with batch_consumer_span(
                    topic=self._topic,
                    group=self._group,
                    headers=[item.record.headers for item in events],
                ) as span:
                    try:
                        await subscription.handler(events, connection)
                    except Exception as error:
                        mark_failed(span, reason=type(error).__name__)
                        raise
            return merged(
                {"processed": len(events)}, {"tombstone_skipped": len(fresh) - len(events)}
            )
        outcomes: Outcomes = {}
        for item in fresh:
            add(outcomes, await self._handle_one(subscription, item, connection, attempt))
        return outcomes

    async def _handle_one(
        self, subscription: Subscription, item: Prepared, connection: DbConnection, attempt: int
    ) -> str:
        record = item.record
        context = MessageContext(
            connection=connection,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempt=attempt,
        )
        with consumer_span(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            group=self._group,
            headers=record.headers,
        ) as span:
            try:
                outcome = await call_handler(subscription, item, context)
            except Exception as error:
                mark_failed(span, reason=type(error).__name__)
                raise
            span.set_attribute("relais.outcome", outcome)
            return outcome


async def call_handler(subscription: Subscription, item: Prepared, context: MessageContext) -> str:
    event, key = item.event, item.record.key
    if event is None:
        if subscription.on_tombstone is None or key is None:
            return "tombstone_skipped"
        await subscription.on_tombstone(key, context)
        return "tombstone_applied"
    structlog.contextvars.bind_contextvars(
        correlation_id=event.correlation_id,
        event_id=str(event.event_id),
        event_type=event.event_type,
    )
    try:
        await subscription.handler(event, context)
    finally:
        structlog.contextvars.unbind_contextvars("correlation_id", "event_id", "event_type")
    return "processed"
