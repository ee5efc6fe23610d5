"""Merchant policy: which choices and anomalies become actions, and which are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from relais_actions.domain import policy
from relais_actions.domain.policy import Execute, Refuse
from relais_contracts import ids
from relais_contracts.actions import ActionType, AddressChangeRequest, RefundRequest
from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.common import Money, PostalAddress
from relais_contracts.topics.action_results import ActionFailureReason
from relais_contracts.topics.anomalies import AnomalyDetected
from relais_contracts.topics.conversations import ResolutionOutcome
from relais_runtime.merchants import MerchantConfigError, load_merchants
from tests.unit.actions.factories import (
    actions_section,
    anomaly_detected,
    callback_requested,
    eur,
    merchant,
    resolution_chosen,
    write_merchant,
)

SHOP = "shop-a"
LOST_RESHIP_UNDER_60: dict[str, object] = {
    "anomaly_types": ["lost"],
    "action": "reship",
    "max_order_value": {"amount": "60.00", "currency": "EUR"},
}


def detected(
    value: Money | None = None, anomaly_type: AnomalyType = AnomalyType.LOST
) -> AnomalyDetected:
    return anomaly_detected(
        merchant_id=SHOP, shipment_id="shp-1", anomaly_type=anomaly_type, order_value=value
    )


def test_an_allowed_choice_becomes_one_command_keyed_by_the_resolution() -> None:
    anomaly = detected(eur("120.00"))
    chosen = resolution_chosen(anomaly, action=RefundRequest(amount=eur("20.00")))
    source = policy.source_of_resolution(chosen, shipment=anomaly.shipment)
    assert source is not None
    decision = policy.decide(source, config=merchant(SHOP, actions=actions_section()).actions)

    assert isinstance(decision, Execute)
    command = decision.command
    assert command.action_id == ids.action_id(chosen.resolution_id, "refund")
    assert command.event_id == command.action_id
    assert command.request == RefundRequest(amount=eur("20.00"))
    assert (command.attempt, command.automatic, command.not_before) == (1, False, None)
    assert command.source_event_id == chosen.event_id
    assert command.conversation_id == chosen.conversation_id
    assert command.shipment == anomaly.shipment
    assert command.partition_key() == chosen.partition_key()


def test_a_choice_that_asks_nothing_of_the_merchant_is_no_action() -> None:
    anomaly = detected()
    for outcome in (ResolutionOutcome.WAIT, ResolutionOutcome.CONFIRM_RECEIVED):
        chosen = resolution_chosen(anomaly, outcome=outcome)
        assert policy.source_of_resolution(chosen, shipment=anomaly.shipment) is None


def test_an_action_the_merchant_does_not_allow_is_refused_with_its_reason() -> None:
    anomaly = detected()
    address = PostalAddress(
        line1="1 rue de la Paix", postal_code="75002", city="Paris", country="FR"
    )
    chosen = resolution_chosen(anomaly, action=AddressChangeRequest(address=address))
    source = policy.source_of_resolution(chosen, shipment=anomaly.shipment)
    assert source is not None

    for config in (merchant(SHOP, actions=actions_section()).actions, None):
        decision = policy.decide(source, config=config)
        assert isinstance(decision, Refuse)
        refused = decision.result
        assert refused.reason is ActionFailureReason.NOT_ALLOWED
        assert refused.detail == "the merchant does not allow address_change"
        assert (refused.attempts, refused.escalated) == (0, False)
        assert refused.action_id == ids.action_id(chosen.resolution_id, "address_change")
        assert refused.order_number == anomaly.shipment.order_number


@pytest.mark.parametrize(
    ("reason", "expired"),
    [
        (ResolutionReason.FACTS_CHANGED, True),
        (ResolutionReason.ORDER_CANCELLED, True),
        (ResolutionReason.SUPERSEDED, False),
        (None, False),
    ],
)
def test_a_choice_for_an_anomaly_the_facts_cleared_expires(
    reason: ResolutionReason | None, expired: bool
) -> None:
    anomaly = detected()
    source = policy.source_of_resolution(resolution_chosen(anomaly), shipment=anomaly.shipment)
    assert source is not None
    config = merchant(SHOP, actions=actions_section()).actions
    decision = policy.decide(source, config=config, anomaly_resolution=reason)
    if expired:
        assert isinstance(decision, Refuse)
        assert decision.result.reason is ActionFailureReason.EXPIRED
    else:
        assert isinstance(decision, Execute)


def test_a_callback_becomes_a_ticket_and_never_expires() -> None:
    anomaly = detected()
    callback = callback_requested(anomaly)
    source = policy.source_of_callback(callback, shipment=anomaly.shipment)
    config = merchant(SHOP, actions=actions_section()).actions
    decision = policy.decide(
        source, config=config, anomaly_resolution=ResolutionReason.FACTS_CHANGED
    )
    assert isinstance(decision, Execute)
    request = decision.command.request
    assert request.action is ActionType.CALLBACK_TICKET
    assert request.phone == callback.phone
    assert request.slot == callback.slot
    assert decision.command.action_id == ids.action_id(callback.callback_id, "callback_ticket")


@pytest.mark.parametrize(
    ("value", "anomaly_type", "automatic"),
    [
        (eur("59.99"), AnomalyType.LOST, True),
        (eur("60.00"), AnomalyType.LOST, True),
        (eur("60.01"), AnomalyType.LOST, False),
        (Money(amount="10.00", currency="GBP"), AnomalyType.LOST, False),
        (None, AnomalyType.LOST, False),
        (eur("10.00"), AnomalyType.DAMAGED, False),
    ],
)
def test_an_automatic_action_runs_only_when_its_rule_provably_applies(
    value: Money | None, anomaly_type: AnomalyType, automatic: bool
) -> None:
    config = merchant(SHOP, actions=actions_section(automatic=(LOST_RESHIP_UNDER_60,))).actions
    anomaly = detected(value, anomaly_type)
    source = policy.source_of_anomaly(anomaly, config=config)
    if not automatic:
        assert source is None
        return
    assert source is not None
    decision = policy.decide(source, config=config)
    assert isinstance(decision, Execute)
    command = decision.command
    assert command.automatic is True
    assert command.request.action is ActionType.RESHIP
    assert command.action_id == ids.action_id(anomaly.anomaly_id, "reship")
    assert command.conversation_id is None


def test_no_configuration_means_no_automatic_action() -> None:
    assert policy.source_of_anomaly(detected(eur("1.00")), config=None) is None


def test_an_automatic_rule_must_be_allowed_and_need_no_customer_input(tmp_path: Path) -> None:
    write_merchant(
        tmp_path,
        "shop-a",
        actions=actions_section(allowed=("refund",), automatic=(LOST_RESHIP_UNDER_60,)),
    )
    write_merchant(
        tmp_path,
        "shop-b",
        actions=actions_section(
            allowed=("redelivery",),
            automatic=({"anomaly_types": ["failed_attempt"], "action": "redelivery"},),
        ),
    )
    with pytest.raises(MerchantConfigError) as caught:
        load_merchants(tmp_path)
    message = str(caught.value)
    assert "shop-a.yaml: actions: Value error, automatic action reship is not in allowed" in message
    assert (
        "shop-b.yaml: actions.automatic.0: Value error, redelivery needs the customer's input"
        in (message)
    )


def test_the_demo_merchants_configure_their_actions() -> None:
    directory = Path(__file__).parents[3] / "deploy" / "merchants"
    merchants = load_merchants(directory)
    for config in merchants.values():
        assert config.actions is not None
        assert config.actions.webhook.secret.env is not None
        assert config.actions.automatic
