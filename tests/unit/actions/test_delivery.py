"""What one webhook call's outcome means: done, refused, retried on a tier, given up."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from relais_actions.domain import delivery
from relais_actions.domain.delivery import (
    CallResult,
    Completed,
    Failed,
    RetryLater,
    RetryPolicy,
    Verdict,
)
from relais_actions.domain.policy import Execute, decide, source_of_resolution
from relais_contracts.topics import action_commands
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.action_results import ActionFailureReason
from relais_contracts.webhooks import ActionWebhookRequest, ActionWebhookResponse, WebhookStatus
from tests.unit.actions.factories import (
    NOW,
    actions_section,
    anomaly_detected,
    eur,
    merchant,
    resolution_chosen,
)

POLICY = RetryPolicy(
    max_attempts=4,
    delays=(timedelta(seconds=30), timedelta(minutes=5), timedelta(minutes=30)),
    jitter=0.2,
)


def command() -> ExecuteAction:
    anomaly = anomaly_detected(merchant_id="shop-a", shipment_id="shp-1", order_value=eur("30"))
    source = source_of_resolution(resolution_chosen(anomaly), shipment=anomaly.shipment)
    assert source is not None
    decision = decide(source, config=merchant("shop-a", actions=actions_section()).actions)
    assert isinstance(decision, Execute)
    return decision.command


def step(call: CallResult | None, *, attempt: int = 1, calls: int = 1) -> delivery.Step:
    current = command().model_copy(update={"attempt": attempt})
    return delivery.next_step(
        current, call=call, calls_made=calls, policy=POLICY, now=NOW, rng=random.Random(7)
    )


@pytest.mark.parametrize(
    ("call", "verdict"),
    [
        (CallResult(status=200), Verdict.COMPLETED),
        (CallResult(status=202), Verdict.COMPLETED),
        (
            CallResult(status=200, response=ActionWebhookResponse(status=WebhookStatus.REJECTED)),
            Verdict.REJECTED,
        ),
        (CallResult(status=400), Verdict.REJECTED),
        (CallResult(status=404), Verdict.REJECTED),
        (CallResult(status=301), Verdict.REJECTED),
        (CallResult(status=408), Verdict.RETRYABLE),
        (CallResult(status=429), Verdict.RETRYABLE),
        (CallResult(status=500), Verdict.RETRYABLE),
        (CallResult(status=503), Verdict.RETRYABLE),
        (CallResult(failure="timeout"), Verdict.RETRYABLE),
        (CallResult(failure="connection_error"), Verdict.RETRYABLE),
        (None, Verdict.SKIPPED),
    ],
)
def test_the_http_status_decides_the_verdict(call: CallResult | None, verdict: Verdict) -> None:
    assert delivery.classify(call) is verdict


def test_a_completed_call_publishes_what_the_merchant_answered() -> None:
    answer = ActionWebhookResponse(
        status=WebhookStatus.COMPLETED, reference="RS-1", amount=eur("30.00")
    )
    result = step(CallResult(status=200, response=answer), calls=2)
    assert isinstance(result, Completed)
    done = result.result
    assert (done.merchant_reference, done.amount, done.attempts) == ("RS-1", eur("30.00"), 2)
    assert done.action_id == command().action_id
    assert done.event_id != done.action_id, "one result id per action, distinct from the command"


def test_a_4xx_is_final_and_not_escalated() -> None:
    result = step(CallResult(status=400))
    assert isinstance(result, Failed)
    assert result.result.reason is ActionFailureReason.MERCHANT_REJECTED
    assert (result.result.http_status, result.result.escalated, result.dead_letter) == (
        400,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("attempt", "tier", "base"),
    [
        (1, "relais.action-commands.retry-30s.v1", 30),
        (2, "relais.action-commands.retry-5m.v1", 300),
        (3, "relais.action-commands.retry-30m.v1", 1800),
    ],
)
def test_a_retryable_failure_goes_to_the_tier_of_the_next_attempt(
    attempt: int, tier: str, base: int
) -> None:
    result = step(CallResult(status=503), attempt=attempt)
    assert isinstance(result, RetryLater)
    again = result.command
    assert result.topic.name == tier
    assert result.topic in action_commands.RETRY_TOPICS
    assert again.attempt == attempt + 1
    assert again.action_id == command().action_id
    assert again.event_id not in {command().event_id, command().action_id}
    assert again.not_before is not None
    waited = (again.not_before - NOW).total_seconds()
    assert base <= waited <= base * 1.2


def test_jitter_spreads_the_retries_of_many_actions() -> None:
    rng = random.Random(1)
    delays = {
        delivery.retry(command(), policy=POLICY, now=NOW, rng=rng).command.not_before
        for _ in range(20)
    }
    assert len(delays) == 20


def test_after_the_last_attempt_it_is_dead_lettered_and_escalated() -> None:
    result = step(CallResult(failure="timeout"), attempt=4, calls=3)
    assert isinstance(result, Failed)
    assert result.dead_letter is True
    failed = result.result
    assert failed.reason is ActionFailureReason.RETRIES_EXHAUSTED
    assert (failed.escalated, failed.attempts, failed.http_status) == (True, 3, None)
    assert failed.detail == "gave up after 4 attempts (3 calls); last: timeout"


def test_an_attempt_skipped_by_the_open_circuit_still_counts() -> None:
    assert isinstance(step(None, attempt=1, calls=0), RetryLater)
    last = step(None, attempt=4, calls=0)
    assert isinstance(last, Failed)
    assert last.result.detail is not None
    assert last.result.detail.endswith("last: circuit open")


def test_the_webhook_body_carries_the_action_as_chosen() -> None:
    current = command()
    body = delivery.webhook_request(current)
    parsed = ActionWebhookRequest.model_validate_json(body.model_dump_json())
    assert parsed.action_id == current.action_id
    assert parsed.action == current.request
    assert parsed.order_number == current.shipment.order_number
    assert parsed.requested_at == current.occurred_at
    assert (parsed.attempt, parsed.automatic) == (1, False)


def test_the_dead_letter_holds_the_command_and_its_origin() -> None:
    current = command().model_copy(update={"attempt": 4})
    letter = delivery.dead_letter(
        current, consumer_group="g", topic="t", partition=2, offset=9, now=NOW
    )
    assert ExecuteAction.model_validate_json(letter.original_value()) == current
    assert letter.partition_key() == current.partition_key()
    assert (letter.reason.kind, letter.reason.attempts) == ("retries_exhausted", 4)
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == ("t", 2, 9)
