"""Executing one ExecuteAction attempt against the merchant's webhook.

Rules:
- an action is executed only while pending: a redelivered or repeated command for a
  completed or failed action calls nobody (the merchant sees one key once);
- every attempt is recorded before it is made, on its own committed connection, so
  a crash mid-call leaves a trace; its outcome is recorded in the handler's
  transaction together with the result or the next retry (outbox);
- the merchant's current policy is applied again (an action it no longer allows is
  refused), and an action whose anomaly the facts have cleared is expired;
- while the merchant endpoint's circuit is open, the attempt is skipped without a
  call and the command goes on to the next retry tier.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import httpx

from relais_actions import repository
from relais_actions.domain import delivery
from relais_actions.domain.breaker import BreakerBoard, CircuitBreaker
from relais_actions.domain.delivery import CallResult, Completed, Failed, RetryLater
from relais_actions.domain.policy import EXPIRING_RESOLUTIONS, not_allowed
from relais_actions.webhook import Endpoint, post_action
from relais_contracts.actions import ActionType
from relais_contracts.topics import action_results, dead_letters
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.action_results import ActionFailureReason
from relais_runtime.clock import Clock
from relais_runtime.consumer import MessageContext, PermanentError
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.actions import Actions
from relais_runtime.metrics import ACTION_RESULTS, ACTION_WEBHOOK_CALLS, ACTION_WEBHOOK_SECONDS
from relais_runtime.outbox import enqueue

log = get_logger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One attempt as recorded: the call (None: skipped, circuit open) and its duration."""

    call: CallResult | None
    duration_ms: int | None = None

    @property
    def outcome(self) -> str:
        return self.call.outcome if self.call is not None else "circuit_open"


@dataclass(frozen=True)
class Executor:
    merchants: Mapping[str, MerchantConfig]
    endpoints: Mapping[str, Endpoint]
    pool: asyncpg.Pool
    http: httpx.AsyncClient
    clock: Clock
    wall_clock: Clock
    """Real time, for the signature's timestamp: the merchant checks it against its clock."""
    rng: random.Random
    breakers: BreakerBoard
    retry_delays: tuple[timedelta, ...]
    retry_jitter: float

    async def execute(self, command: ExecuteAction, context: MessageContext, *, group: str) -> None:
        """Dead-letters (PermanentError) a command of an unknown merchant or action."""
        merchant = self.merchants.get(command.merchant_id)
        if merchant is None:
            raise PermanentError(f"merchant {command.merchant_id!r} is not configured")
        action = await repository.get_action(
            context.connection,
            merchant_id=command.merchant_id,
            action_id=command.action_id,
            lock=True,
        )
        if action is None:
            raise PermanentError(f"action {command.action_id} was never decided here")
        if action.state != "pending":
            log.info("action already ended, command ignored", action_id=str(command.action_id))
            return
        refusal = await self._refusal(command, config=merchant.actions)
        if refusal is not None:
            await self._finish(refusal, command=command, context=context, group=group)
            return
        assert merchant.actions is not None
        attempt = await self._attempt(command, config=merchant.actions)
        step = delivery.next_step(
            command,
            call=attempt.call,
            calls_made=await self._calls_made(command),
            policy=delivery.RetryPolicy(
                max_attempts=merchant.actions.max_attempts,
                delays=self.retry_delays,
                jitter=self.retry_jitter,
            ),
            now=self.clock.now(),
            rng=self.rng,
        )
        await repository.update_attempt(
            context.connection,
            merchant_id=command.merchant_id,
            action_id=command.action_id,
            attempt=command.attempt,
            finished_at=self.clock.now(),
            outcome=attempt.outcome,
            http_status=attempt.call.status if attempt.call else None,
            duration_ms=attempt.duration_ms,
        )
        log.info(
            "action attempt",
            action_id=str(command.action_id),
            attempt=command.attempt,
            outcome=attempt.outcome,
            next=type(step).__name__,
        )
        if isinstance(step, RetryLater):
            await enqueue(context.connection, topic=step.topic, events=[step.command])
        else:
            await self._finish(step, command=command, context=context, group=group)

    async def _refusal(self, command: ExecuteAction, *, config: Actions | None) -> Failed | None:
        """Refuse without calling: no longer allowed, or expired by the facts."""
        if config is None or not config.allows(command.action_type):
            return await self._failed(
                command,
                reason=ActionFailureReason.NOT_ALLOWED,
                detail=not_allowed(command.action_type),
            )
        if command.anomaly_id is None or command.action_type is ActionType.CALLBACK_TICKET:
            return None
        async with self.pool.acquire() as connection:
            anomaly = await repository.get_anomaly(
                connection, merchant_id=command.merchant_id, anomaly_id=command.anomaly_id
            )
        if anomaly is None or anomaly.resolution_reason not in EXPIRING_RESOLUTIONS:
            return None
        assert anomaly.resolution_reason is not None
        return await self._failed(
            command,
            reason=ActionFailureReason.EXPIRED,
            detail=f"the anomaly was closed ({anomaly.resolution_reason.value}) before it ran",
        )

    async def _failed(
        self, command: ExecuteAction, *, reason: ActionFailureReason, detail: str
    ) -> Failed:
        result = delivery.failed(
            command,
            reason=reason,
            detail=detail,
            calls_made=await self._calls_made(command),
            now=self.clock.now(),
        )
        return Failed(result)

    async def _calls_made(self, command: ExecuteAction) -> int:
        async with self.pool.acquire() as connection:
            return await repository.get_calls_made(
                connection, merchant_id=command.merchant_id, action_id=command.action_id
            )

    async def _attempt(self, command: ExecuteAction, *, config: Actions) -> Attempt:
        endpoint = self.endpoints[command.merchant_id]
        breaker = self.breakers.for_endpoint(
            merchant_id=command.merchant_id,
            url=endpoint.url,
            failure_threshold=config.circuit_breaker.failure_threshold,
            cool_down=timedelta(seconds=config.circuit_breaker.cool_down_s),
        )
        now = self.clock.now()
        allowed = breaker.allow(now)
        async with self.pool.acquire() as connection:
            await repository.create_attempt(
                connection,
                merchant_id=command.merchant_id,
                action_id=command.action_id,
                attempt=command.attempt,
                started_at=now,
                called=allowed,
            )
        if not allowed:
            ACTION_WEBHOOK_CALLS.labels(outcome="circuit_open").inc()
            return Attempt(call=None)
        return await self._call(command, endpoint=endpoint, breaker=breaker)

    async def _call(
        self, command: ExecuteAction, *, endpoint: Endpoint, breaker: CircuitBreaker
    ) -> Attempt:
        body = delivery.webhook_request(command).model_dump_json().encode()
        started = time.perf_counter()
        call = await post_action(
            self.http,
            endpoint=endpoint,
            body=body,
            idempotency_key=str(command.action_id),
            timestamp=int(self.wall_clock.now().timestamp()),
        )
        elapsed = time.perf_counter() - started
        ACTION_WEBHOOK_SECONDS.observe(elapsed)
        ACTION_WEBHOOK_CALLS.labels(outcome=call.outcome).inc()
        if delivery.is_endpoint_failure(delivery.classify(call)):
            breaker.record_failure(self.clock.now())
        else:
            breaker.record_success()
        return Attempt(call=call, duration_ms=round(elapsed * 1000))

    async def _finish(
        self,
        step: Completed | Failed,
        *,
        command: ExecuteAction,
        context: MessageContext,
        group: str,
    ) -> None:
        """Close the action, publish its one result; dead-letter a command given up on."""
        connection = context.connection
        await repository.update_action(connection, result=step.result)
        await enqueue(connection, topic=action_results.TOPIC, events=[step.result])
        result = "completed" if isinstance(step, Completed) else step.result.reason.value
        ACTION_RESULTS.labels(action=command.action_type.value, result=result).inc()
        if isinstance(step, Failed) and step.dead_letter:
            letter = delivery.dead_letter(
                command,
                consumer_group=group,
                topic=context.topic,
                partition=context.partition,
                offset=context.offset,
                now=self.clock.now(),
            )
            await enqueue(connection, topic=dead_letters.TOPIC, events=[letter])
        log.info("action ended", action_id=str(command.action_id), result=result)
