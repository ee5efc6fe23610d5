"""Delivery: what one webhook call's outcome means, and what is published for it.

Rules:
- the HTTP status decides: 2xx is done (unless the body says `rejected`), 408, 425,
  429 and 5xx are worth retrying, as are timeouts and connection errors; any other
  status (4xx, and 3xx: redirects are not followed) is the merchant's final answer;
- a retry is the same command with `attempt + 1`, a fresh event id and `not_before`
  = now + the tier's base delay + up to `jitter` of it, published on the retry tier
  for that attempt (`retry_topic_for`); an attempt skipped because the circuit is
  open counts as an attempt, without a call;
- after `max_attempts` attempts the command is dead-lettered and ActionFailed
  (retries_exhausted, escalated) hands it to a human;
- `attempts` in a result counts webhook calls actually made; `detail` never quotes
  the merchant's answer (it may hold personal data).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from relais_actions.domain.ids import command_event_id, dead_letter_event_id, result_event_id
from relais_contracts.registry import Topic
from relais_contracts.topics import dead_letters
from relais_contracts.topics.action_commands import ExecuteAction, retry_topic_for
from relais_contracts.topics.action_results import (
    ActionCompleted,
    ActionFailed,
    ActionFailureReason,
)
from relais_contracts.webhooks import ActionWebhookRequest, ActionWebhookResponse, WebhookStatus

RETRYABLE_4XX = frozenset({408, 425, 429})


class Verdict(StrEnum):
    COMPLETED = "completed"
    REJECTED = "rejected"
    RETRYABLE = "retryable"
    SKIPPED = "skipped"
    """Not called: the circuit is open."""


class CallFailure(StrEnum):
    """Why a call got no HTTP answer."""

    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"


@dataclass(frozen=True)
class CallResult:
    """What one webhook call gave, as the HTTP adapter saw it."""

    status: int | None = None
    """None: no HTTP answer (timeout, connection error)."""
    response: ActionWebhookResponse | None = None
    """The parsed body of a 2xx answer, if it was valid."""
    failure: CallFailure | None = None
    """Why there was no answer (None when there was one)."""

    @property
    def outcome(self) -> str:
        """A bounded label for logs, metrics and the attempts table."""
        if self.status is None:
            return str(self.failure) if self.failure else "no_answer"
        return f"http_{self.status // 100}xx"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    delays: tuple[timedelta, ...]
    """Base delay of each retry tier (second attempt, third, fourth and later)."""
    jitter: float = 0.2


def classify(call: CallResult | None) -> Verdict:
    """The verdict on one call; None means no call was made (circuit open)."""
    if call is None:
        return Verdict.SKIPPED
    status = call.status
    if status is None or status >= 500 or status in RETRYABLE_4XX:
        return Verdict.RETRYABLE
    if 200 <= status < 300:
        if call.response is not None and call.response.status is WebhookStatus.REJECTED:
            return Verdict.REJECTED
        return Verdict.COMPLETED
    return Verdict.REJECTED


def is_endpoint_failure(verdict: Verdict) -> bool:
    """Whether the circuit breaker counts it as a failure of the endpoint."""
    return verdict is Verdict.RETRYABLE


@dataclass(frozen=True)
class Completed:
    result: ActionCompleted


@dataclass(frozen=True)
class Failed:
    result: ActionFailed
    dead_letter: bool = False


@dataclass(frozen=True)
class RetryLater:
    command: ExecuteAction
    topic: Topic


Step = Completed | Failed | RetryLater


def next_step(
    command: ExecuteAction,
    *,
    call: CallResult | None,
    calls_made: int,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random,
) -> Step:
    """What follows one attempt: done, refused, another attempt later, or given up."""
    verdict = classify(call)
    status = call.status if call is not None else None
    if verdict is Verdict.COMPLETED:
        assert call is not None
        return Completed(completed(command, response=call.response, calls_made=calls_made, now=now))
    if verdict is Verdict.REJECTED:
        detail = f"the merchant refused the action (HTTP {status})"
        return Failed(
            failed(
                command,
                reason=ActionFailureReason.MERCHANT_REJECTED,
                detail=detail,
                calls_made=calls_made,
                http_status=status,
                escalated=False,
                now=now,
            )
        )
    if command.attempt < policy.max_attempts:
        return retry(command, policy=policy, now=now, rng=rng)
    why = "circuit open" if call is None else (call.failure or f"HTTP {status}")
    detail = f"gave up after {command.attempt} attempts ({calls_made} calls); last: {why}"
    return Failed(
        failed(
            command,
            reason=ActionFailureReason.RETRIES_EXHAUSTED,
            detail=detail,
            calls_made=calls_made,
            http_status=status,
            escalated=True,
            now=now,
        ),
        dead_letter=True,
    )


def retry(
    command: ExecuteAction, *, policy: RetryPolicy, now: datetime, rng: random.Random
) -> RetryLater:
    attempt = command.attempt + 1
    topic, _ = retry_topic_for(attempt)
    base = policy.delays[min(attempt - 2, len(policy.delays) - 1)]
    delay = base * (1 + rng.uniform(0, policy.jitter))
    again = command.model_copy(
        update={
            "event_id": command_event_id(command.action_id, attempt),
            "produced_at": now,
            "attempt": attempt,
            "not_before": now + delay,
        }
    )
    return RetryLater(command=again, topic=topic)


def completed(
    command: ExecuteAction,
    *,
    response: ActionWebhookResponse | None,
    calls_made: int,
    now: datetime,
) -> ActionCompleted:
    return ActionCompleted(
        **_result_fields(command, calls_made=calls_made, now=now),
        merchant_reference=response.reference if response else None,
        amount=response.amount if response else None,
        voucher_code=response.voucher_code if response else None,
    )


def failed(
    command: ExecuteAction,
    *,
    reason: ActionFailureReason,
    detail: str,
    calls_made: int,
    now: datetime,
    http_status: int | None = None,
    escalated: bool = False,
) -> ActionFailed:
    return ActionFailed(
        **_result_fields(command, calls_made=calls_made, now=now),
        reason=reason,
        http_status=http_status,
        detail=detail[:500],
        escalated=escalated,
    )


def _result_fields(command: ExecuteAction, *, calls_made: int, now: datetime) -> dict[str, Any]:
    return {
        "event_id": result_event_id(command.action_id),
        "occurred_at": now,
        "produced_at": now,
        "merchant_id": command.merchant_id,
        "correlation_id": command.correlation_id,
        "shipment_id": command.shipment_id,
        "action_id": command.action_id,
        "action": command.action_type,
        "order_id": command.shipment.order_id,
        "order_number": command.shipment.order_number,
        "automatic": command.automatic,
        "anomaly_id": command.anomaly_id,
        "anomaly_type": command.anomaly_type,
        "conversation_id": command.conversation_id,
        "attempts": calls_made,
    }


def webhook_request(command: ExecuteAction) -> ActionWebhookRequest:
    """The body sent to the merchant: the action as chosen, with its order and parcel."""
    return ActionWebhookRequest(
        action_id=command.action_id,
        merchant_id=command.merchant_id,
        requested_at=command.occurred_at,
        attempt=command.attempt,
        automatic=command.automatic,
        action=command.request,
        order_id=command.shipment.order_id,
        order_number=command.shipment.order_number,
        shipment_id=command.shipment_id,
        carrier=command.shipment.carrier,
        tracking_number=command.shipment.tracking_number,
        anomaly_id=command.anomaly_id,
        anomaly_type=command.anomaly_type,
    )


def dead_letter(
    command: ExecuteAction,
    *,
    consumer_group: str,
    topic: str,
    partition: int,
    offset: int,
    now: datetime,
) -> dead_letters.MessageDeadLettered:
    """The last command, set aside with its reason (it holds personal data: never log it)."""
    encode = dead_letters.MessageDeadLettered.encode_bytes
    return dead_letters.MessageDeadLettered(
        event_id=dead_letter_event_id(command.action_id),
        occurred_at=now,
        produced_at=now,
        merchant_id=command.merchant_id,
        correlation_id=command.correlation_id,
        consumer_group=consumer_group,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_key_b64=encode(command.partition_key()),
        original_value_b64=encode(command.model_dump_json().encode()),
        reason=dead_letters.DeadLetterReason(
            kind="retries_exhausted",
            message=f"action {command.action_id}: {command.attempt} attempts without success",
            attempts=command.attempt,
        ),
    )
