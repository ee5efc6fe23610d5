"""The actions service end to end: real Kafka, PostgreSQL and a real merchant HTTP server."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from uuid import UUID, uuid4

from relais_actions.domain.ids import command_event_id, dead_letter_event_id
from relais_contracts import ids
from relais_contracts.actions import AddressChangeRequest, RefundRequest
from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.common import Money, PostalAddress
from relais_contracts.topics import action_commands, anomalies, dead_letters
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.action_results import (
    ActionCompleted,
    ActionFailed,
    ActionFailureReason,
)
from relais_contracts.topics.anomalies import AnomalyDetected
from relais_contracts.webhooks import ActionWebhookRequest
from tests.conftest import REPO_ROOT
from tests.integration.actions.conftest import RETRY_DELAYS_S, ActionsHarness, Merchant
from tests.integration.actions.merchant_server import Answer, Received
from tests.integration.conftest import eventually
from tests.unit.actions.factories import (
    anomaly_detected,
    anomaly_resolved,
    eur,
    new_shipment_id,
    resolution_chosen,
)


def documented_verifier() -> Callable[[str, str, bytes], bool]:
    """verify_relais_signature, exactly as docs/webhooks.md shows it to merchants."""
    doc = (REPO_ROOT + "/docs/webhooks.md").replace("//", "/")
    with open(doc, encoding="utf-8") as text:
        match = re.search(r"<!-- snippet: python -->\n```python\n(.*?)```", text.read(), re.S)
    assert match
    namespace: dict[str, object] = {}
    exec(match.group(1), namespace)  # noqa: S102 - the documented recipe, run as written
    verifier = namespace["verify_relais_signature"]
    assert callable(verifier)
    return verifier


def assert_signed_for(request: Received, *, merchant: Merchant, other: Merchant) -> None:
    """Signed with this merchant's secret, the way the docs tell merchants to check it."""
    verify = documented_verifier()
    signature = request.headers["relais-signature"]
    assert verify(merchant.secret, signature, request.body)
    assert not verify(other.secret, signature, request.body)


def late_anomaly(
    merchant_id: str,
    *,
    anomaly_type: AnomalyType = AnomalyType.DELIVERY_LATE,
    order_value: Money | None = None,
) -> AnomalyDetected:
    return anomaly_detected(
        merchant_id=merchant_id,
        shipment_id=new_shipment_id(),
        anomaly_type=anomaly_type,
        order_value=order_value,
    )


async def reship_chosen(actions: ActionsHarness, *, merchant_id: str) -> UUID:
    """A late parcel whose customer chose a reship; returns the action's id."""
    anomaly = late_anomaly(merchant_id)
    await actions.open_anomaly(anomaly)
    chosen = resolution_chosen(anomaly)
    await actions.choose(chosen)
    return ids.action_id(chosen.resolution_id, "reship")


async def test_a_choice_reaches_the_merchant_once_signed_even_if_consumed_twice(
    actions: ActionsHarness,
) -> None:
    merchant = actions.merchants["ok"]
    anomaly = late_anomaly(merchant.merchant_id)
    await actions.open_anomaly(anomaly)
    chosen = resolution_chosen(anomaly)
    # Redelivered as is, and re-produced under a new event id: still one action.
    await actions.choose(chosen, chosen, chosen.model_copy(update={"event_id": uuid4()}))
    action_id = ids.action_id(chosen.resolution_id, "reship")

    result = await actions.result(action_id)
    assert isinstance(result, ActionCompleted)
    assert (result.attempts, result.automatic) == (1, False)
    assert result.merchant_reference == f"ref-{action_id}"
    assert result.order_number == anomaly.shipment.order_number

    # The command itself consumed again, under its own id and under another one.
    raw = await actions.pool.fetchval(
        "SELECT value FROM outbox WHERE event_id = $1", command_event_id(action_id, 1)
    )
    command = action_commands.TOPIC.decode(raw)
    assert isinstance(command, ExecuteAction)
    replayed = command.model_copy(update={"event_id": uuid4()})
    await actions.publish(action_commands.TOPIC.name, command, replayed)

    async def replay_handled() -> object:
        return await actions.pool.fetchval(
            "SELECT 1 FROM processed_events WHERE event_id = $1", replayed.event_id
        )

    assert await eventually(replay_handled)

    requests = actions.server.requests_to(merchant.path)
    assert [request.idempotency_key for request in requests] == [str(action_id)]
    assert_signed_for(requests[0], merchant=merchant, other=actions.merchants["tenant-b"])
    body = ActionWebhookRequest.model_validate_json(requests[0].body)
    assert body.action_id == action_id
    assert body.merchant_id == merchant.merchant_id
    assert body.action == chosen.action
    rows = await actions.pool.fetch("SELECT state FROM actions WHERE action_id = $1", action_id)
    assert [row["state"] for row in rows] == ["completed"]


async def test_500_is_retried_through_the_tiers_until_it_succeeds(actions: ActionsHarness) -> None:
    merchant = actions.merchants["flaky"]
    actions.server.script(merchant.path, Answer(500), Answer(502), Answer(200))
    anomaly = late_anomaly(merchant.merchant_id)
    await actions.open_anomaly(anomaly)
    chosen = resolution_chosen(anomaly, action=RefundRequest(amount=eur("12.50")))
    await actions.choose(chosen)
    action_id = ids.action_id(chosen.resolution_id, "refund")

    result = await actions.result(action_id)
    assert isinstance(result, ActionCompleted)
    assert result.attempts == 3
    requests = actions.server.requests_to(merchant.path)
    assert {request.idempotency_key for request in requests} == {str(action_id)}
    assert [ActionWebhookRequest.model_validate_json(r.body).attempt for r in requests] == [1, 2, 3]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[0] >= RETRY_DELAYS_S[0] * 0.95
    assert gaps[1] >= RETRY_DELAYS_S[1] * 0.95
    attempts = await actions.attempts(action_id)
    assert [(a["attempt"], a["outcome"], a["http_status"]) for a in attempts] == [
        (1, "http_5xx", 500),
        (2, "http_5xx", 502),
        (3, "http_2xx", 200),
    ]
    retries = await actions.pool.fetch(
        "SELECT topic FROM outbox WHERE event_id = ANY($1::uuid[]) ORDER BY id",
        [command_event_id(action_id, 2), command_event_id(action_id, 3)],
    )
    assert [row["topic"] for row in retries] == [
        "relais.action-commands.retry-30s.v1",
        "relais.action-commands.retry-5m.v1",
    ]


async def test_a_timeout_is_retried(actions: ActionsHarness) -> None:
    merchant = actions.merchants["slow"]
    actions.server.script(merchant.path, Answer(200, delay_s=2.0), Answer(200))
    action_id = await reship_chosen(actions, merchant_id=merchant.merchant_id)

    result = await actions.result(action_id)
    assert isinstance(result, ActionCompleted)
    assert result.attempts == 2
    attempts = await actions.attempts(action_id)
    assert [(a["outcome"], a["http_status"]) for a in attempts] == [
        ("timeout", None),
        ("http_2xx", 200),
    ]


async def test_a_4xx_is_not_retried(actions: ActionsHarness) -> None:
    merchant = actions.merchants["reject"]
    actions.server.script(merchant.path, Answer(400))
    action_id = await reship_chosen(actions, merchant_id=merchant.merchant_id)

    result = await actions.result(action_id)
    assert isinstance(result, ActionFailed)
    assert (result.reason, result.http_status, result.escalated, result.attempts) == (
        ActionFailureReason.MERCHANT_REJECTED,
        400,
        False,
        1,
    )
    assert len(actions.server.requests_to(merchant.path)) == 1
    retried = await actions.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE event_id = $1", command_event_id(action_id, 2)
    )
    assert retried == 0


async def test_after_n_attempts_it_is_dead_lettered_and_escalated(actions: ActionsHarness) -> None:
    merchant = actions.merchants["down"]
    actions.server.script(merchant.path, Answer(503))
    action_id = await reship_chosen(actions, merchant_id=merchant.merchant_id)

    result = await actions.result(action_id)
    assert isinstance(result, ActionFailed)
    assert (result.reason, result.escalated, result.attempts, result.http_status) == (
        ActionFailureReason.RETRIES_EXHAUSTED,
        True,
        3,
        503,
    )
    assert len(actions.server.requests_to(merchant.path)) == 3
    raw = await actions.pool.fetchval(
        "SELECT value FROM outbox WHERE event_id = $1 AND topic = $2",
        dead_letter_event_id(action_id),
        dead_letters.TOPIC.name,
    )
    letter = dead_letters.TOPIC.decode(raw)
    assert isinstance(letter, dead_letters.MessageDeadLettered)
    assert letter.reason.kind == "retries_exhausted"
    assert letter.source_topic == "relais.action-commands.retry-5m.v1"
    last = ExecuteAction.model_validate_json(letter.original_value())
    assert (last.action_id, last.attempt) == (action_id, 3)


async def test_the_circuit_opens_skips_calls_and_closes_after_a_successful_trial(
    actions: ActionsHarness,
) -> None:
    merchant = actions.merchants["breaker"]
    actions.server.script(merchant.path, Answer(503), Answer(503), Answer(200))
    action_id = await reship_chosen(actions, merchant_id=merchant.merchant_id)

    result = await actions.result(action_id)
    assert isinstance(result, ActionCompleted)
    attempts = await actions.attempts(action_id)
    # Two failures open it; the third attempt comes before the cool-down and is skipped
    # without a call; the fourth, after it, is the trial that closes it.
    assert [(a["called"], a["outcome"]) for a in attempts] == [
        (True, "http_5xx"),
        (True, "http_5xx"),
        (False, "circuit_open"),
        (True, "http_2xx"),
    ]
    assert result.attempts == 3
    assert len(actions.server.requests_to(merchant.path)) == 3

    # Closed again: the next action goes through at its first attempt.
    second_id = await reship_chosen(actions, merchant_id=merchant.merchant_id)
    second_result = await actions.result(second_id)
    assert isinstance(second_result, ActionCompleted)
    assert second_result.attempts == 1


async def test_one_merchant_s_action_never_reaches_another_s_endpoint(
    actions: ActionsHarness,
) -> None:
    a, b = actions.merchants["tenant-a"], actions.merchants["tenant-b"]
    shipment_id = new_shipment_id()
    # Same shipment id at both merchants: ids are unique per merchant only.
    anomaly_a = anomaly_detected(merchant_id=a.merchant_id, shipment_id=shipment_id)
    anomaly_b = anomaly_detected(merchant_id=b.merchant_id, shipment_id=shipment_id)
    await actions.open_anomaly(anomaly_a)
    await actions.open_anomaly(anomaly_b)
    chosen_a, chosen_b = resolution_chosen(anomaly_a), resolution_chosen(anomaly_b)
    await actions.choose(chosen_a, chosen_b)
    for chosen in (chosen_a, chosen_b):
        result = await actions.result(ids.action_id(chosen.resolution_id, "reship"))
        assert isinstance(result, ActionCompleted)
        assert result.merchant_id == chosen.merchant_id

    for merchant, other in ((a, b), (b, a)):
        requests = actions.server.requests_to(merchant.path)
        assert len(requests) == 1
        body = ActionWebhookRequest.model_validate_json(requests[0].body)
        assert body.merchant_id == merchant.merchant_id
        assert_signed_for(requests[0], merchant=merchant, other=other)


async def test_an_action_the_merchant_does_not_allow_is_refused_without_a_call(
    actions: ActionsHarness,
) -> None:
    merchant = actions.merchants["ok"]
    anomaly = late_anomaly(merchant.merchant_id)
    await actions.open_anomaly(anomaly)
    address = PostalAddress(line1="3 rue Neuve", postal_code="69001", city="Lyon", country="FR")
    chosen = resolution_chosen(anomaly, action=AddressChangeRequest(address=address))
    await actions.choose(chosen)
    action_id = ids.action_id(chosen.resolution_id, "address_change")

    result = await actions.result(action_id)
    assert isinstance(result, ActionFailed)
    assert (result.reason, result.attempts, result.escalated) == (
        ActionFailureReason.NOT_ALLOWED,
        0,
        False,
    )
    keys = {request.idempotency_key for request in actions.server.received}
    assert str(action_id) not in keys
    state = await actions.pool.fetchval(
        "SELECT failure_reason FROM actions WHERE action_id = $1", action_id
    )
    assert state == "not_allowed"


async def test_a_lost_parcel_under_the_limit_is_reshipped_without_asking(
    actions: ActionsHarness,
) -> None:
    merchant = actions.merchants["ok"]
    small = late_anomaly(merchant.merchant_id, anomaly_type=AnomalyType.LOST, order_value=eur("45"))
    large = late_anomaly(
        merchant.merchant_id, anomaly_type=AnomalyType.LOST, order_value=eur("450")
    )
    await actions.open_anomaly(large)
    await actions.open_anomaly(small)

    result = await actions.result(ids.action_id(small.anomaly_id, "reship"))
    assert isinstance(result, ActionCompleted)
    assert (result.automatic, result.anomaly_id, result.conversation_id) == (
        True,
        small.anomaly_id,
        None,
    )
    body = ActionWebhookRequest.model_validate_json(
        next(
            request.body
            for request in actions.server.requests_to(merchant.path)
            if request.idempotency_key == str(result.action_id)
        )
    )
    assert body.automatic is True
    decided = await actions.pool.fetchval(
        "SELECT count(*) FROM actions WHERE anomaly_id = $1", large.anomaly_id
    )
    assert decided == 0


async def test_a_choice_for_a_parcel_delivered_meanwhile_expires_without_a_call(
    actions: ActionsHarness,
) -> None:
    merchant = actions.merchants["ok"]
    anomaly = late_anomaly(merchant.merchant_id)
    await actions.open_anomaly(anomaly)
    await actions.publish(
        anomalies.TOPIC.name, anomaly_resolved(anomaly, reason=ResolutionReason.FACTS_CHANGED)
    )

    async def resolved() -> object:
        return await actions.pool.fetchval(
            "SELECT resolution_reason FROM anomalies WHERE anomaly_id = $1", anomaly.anomaly_id
        )

    assert await eventually(resolved) == "facts_changed"
    chosen = resolution_chosen(anomaly)
    await actions.choose(chosen)
    action_id = ids.action_id(chosen.resolution_id, "reship")

    result = await actions.result(action_id)
    assert isinstance(result, ActionFailed)
    assert (result.reason, result.attempts) == (ActionFailureReason.EXPIRED, 0)
    assert str(action_id) not in {request.idempotency_key for request in actions.server.received}
