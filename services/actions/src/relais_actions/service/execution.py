"""Executing one ExecuteAction attempt against the merchant's webhook.

Rules:
- an action is executed only while pending: a redelivered or repeated command for a
  completed or failed action calls nobody (the merchant sees one key once);
- a command of a merchant this deployment does not configure, or of an action never
  decided here, is dead-lettered (PermanentError);
- every attempt is recorded before it is made (see attempts); its outcome is recorded
  in the handler's transaction together with the result or the next retry (outbox);
- the merchant's current policy is applied again (an action it no longer allows is
  refused), and an action whose anomaly the facts have cleared is expired;
- while the merchant endpoint's circuit is open, the attempt is skipped without a
  call and the command goes on to the next retry tier.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from relais_actions import repository
from relais_actions.domain import delivery
from relais_actions.domain.delivery import Failed, RetryLater, Step
from relais_actions.domain.lifecycle import ActionState
from relais_actions.domain.policy import EXPIRING_RESOLUTIONS, not_allowed
from relais_actions.service.attempts import Attempt, WebhookCaller, calls_made
from relais_actions.service.outgoing import Outgoing
from relais_actions.service.results import close_action
from relais_contracts.actions import ActionType
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.action_results import ActionFailureReason
from relais_runtime.clock import Clock
from relais_runtime.consumer import MessageContext, PermanentError
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig

log = get_logger(__name__)


@dataclass(frozen=True)
class Executor:
    merchants: Mapping[str, MerchantConfig]
    pool: asyncpg.Pool
    caller: WebhookCaller
    clock: Clock
    rng: random.Random
    retry_delays: tuple[timedelta, ...]
    retry_jitter: float

    async def execute(
        self, command: ExecuteAction, context: MessageContext, *, group: str
    ) -> list[Outgoing]:
        """What to publish after this attempt: the next retry, or the result (and the
        dead letter of a command given up on); nothing for an action already ended."""
        merchant = await self._merchant_if_pending(command, context.connection)
        if merchant is None:
            return []
        config = merchant.actions
        if config is None or not config.allows(command.action_type):
            refusal = await self._failed(
                command,
                reason=ActionFailureReason.NOT_ALLOWED,
                detail=not_allowed(command.action_type),
            )
            return await self._close(refusal, command=command, context=context, group=group)
        expiry = await self._expiry(command)
        if expiry is not None:
            return await self._close(expiry, command=command, context=context, group=group)
        attempt = await self.caller.attempt(command, config=config)
        step = delivery.next_step(
            command,
            call=attempt.call,
            calls_made=await calls_made(self.pool, command),
            policy=delivery.RetryPolicy(
                max_attempts=config.max_attempts, delays=self.retry_delays, jitter=self.retry_jitter
            ),
            now=self.clock.now(),
            rng=self.rng,
        )
        await self._record(command, attempt=attempt, step=step, connection=context.connection)
        if isinstance(step, RetryLater):
            return [Outgoing(step.topic, step.command)]
        return await self._close(step, command=command, context=context, group=group)

    async def _merchant_if_pending(
        self, command: ExecuteAction, connection: DbConnection
    ) -> MerchantConfig | None:
        """The merchant of a pending action, its row locked; None when it has ended."""
        merchant = self.merchants.get(command.merchant_id)
        if merchant is None:
            raise PermanentError(f"merchant {command.merchant_id!r} is not configured")
        action = await repository.get_action(
            connection, merchant_id=command.merchant_id, action_id=command.action_id, lock=True
        )
        if action is None:
            raise PermanentError(f"action {command.action_id} was never decided here")
        if action.state is not ActionState.PENDING:
            log.info("action already ended, command ignored", action_id=str(command.action_id))
            return None
        return merchant

    async def _expiry(self, command: ExecuteAction) -> Failed | None:
        """Expired without calling when the facts closed its anomaly (never a callback)."""
        if command.anomaly_id is None or command.action_type is ActionType.CALLBACK_TICKET:
            return None
        async with self.pool.acquire() as connection:
            anomaly = await repository.get_anomaly(
                connection, merchant_id=command.merchant_id, anomaly_id=command.anomaly_id
            )
        reason = anomaly.resolution_reason if anomaly is not None else None
        if reason is None or reason not in EXPIRING_RESOLUTIONS:
            return None
        return await self._failed(
            command,
            reason=ActionFailureReason.EXPIRED,
            detail=f"the anomaly was closed ({reason.value}) before it ran",
        )

    async def _failed(
        self, command: ExecuteAction, *, reason: ActionFailureReason, detail: str
    ) -> Failed:
        result = delivery.failed(
            command,
            reason=reason,
            detail=detail,
            calls_made=await calls_made(self.pool, command),
            now=self.clock.now(),
        )
        return Failed(result)

    async def _record(
        self, command: ExecuteAction, *, attempt: Attempt, step: Step, connection: DbConnection
    ) -> None:
        await repository.update_attempt(
            connection,
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

    async def _close(
        self,
        step: delivery.Completed | Failed,
        *,
        command: ExecuteAction,
        context: MessageContext,
        group: str,
    ) -> list[Outgoing]:
        return await close_action(
            step, command=command, context=context, group=group, now=self.clock.now()
        )
