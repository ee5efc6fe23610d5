"""One attempt at the merchant's webhook, behind its endpoint's circuit breaker.

Rules:
- the attempt is recorded before it is made, on its own committed connection, so a
  crash mid-call leaves a trace;
- while the endpoint's circuit is open the attempt is recorded as not called and no
  call is made;
- the signature's timestamp is read on the wall clock, whatever the service's clock
  is: the merchant checks it against its own;
- what the breaker counts as a failure is the delivery domain's `is_endpoint_failure`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import httpx

from relais_actions import repository
from relais_actions.adapters.webhook import Endpoint, post_action
from relais_actions.domain import delivery
from relais_actions.domain.breaker import BreakerBoard, CircuitBreaker
from relais_actions.domain.delivery import CallResult
from relais_contracts.topics.action_commands import ExecuteAction
from relais_runtime.clock import Clock
from relais_runtime.merchants.actions import Actions
from relais_runtime.metrics import ACTION_WEBHOOK_CALLS, ACTION_WEBHOOK_SECONDS


@dataclass(frozen=True)
class Attempt:
    """One attempt as recorded: the call (None: skipped, circuit open) and its duration."""

    call: CallResult | None
    duration_ms: int | None = None

    @property
    def outcome(self) -> str:
        return self.call.outcome if self.call is not None else "circuit_open"


@dataclass(frozen=True)
class WebhookCaller:
    endpoints: Mapping[str, Endpoint]
    pool: asyncpg.Pool
    http: httpx.AsyncClient
    clock: Clock
    wall_clock: Clock
    breakers: BreakerBoard

    async def attempt(self, command: ExecuteAction, *, config: Actions) -> Attempt:
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


async def calls_made(pool: asyncpg.Pool, command: ExecuteAction) -> int:
    """The webhook calls actually made for the command's action (committed attempts)."""
    async with pool.acquire() as connection:
        return await repository.get_calls_made(
            connection, merchant_id=command.merchant_id, action_id=command.action_id
        )
