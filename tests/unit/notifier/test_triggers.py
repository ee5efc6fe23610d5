"""From detector and actions events to planned messages, with their idempotency keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType
from relais_contracts.topics import action_results, anomalies
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.notifications import Channel, LinkKind, TriggerKind
from relais_notifier.domain.outcomes import moved_to, plan, round_delay
from relais_notifier.domain.triggers import (
    MessageRequest,
    TriggerDisabled,
    action_request,
    anomaly_request,
    milestone_request,
)
from relais_runtime.merchants import load_merchants
from tests.conftest import REPO_ROOT

MERCHANTS = load_merchants(Path(REPO_ROOT) / "deploy" / "merchants")
LUMIERE = MERCHANTS["maison-lumiere"].notification
VELOCITY = MERCHANTS["velocity-sports"].notification
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def example(topic: object, name: str) -> object:
    path = topic.examples_dir() / name  # type: ignore[attr-defined]
    return topic.decode(path.read_bytes())  # type: ignore[attr-defined]


def test_every_demo_merchant_has_a_notification_section() -> None:
    assert LUMIERE is not None
    assert VELOCITY is not None


def test_bound_anomaly_asks_for_a_chat_link_on_each_bound_channel() -> None:
    assert LUMIERE is not None
    event = example(anomalies.TOPIC, "AnomalyDetected-pickup-ready.json")
    assert isinstance(event, AnomalyDetected)
    request = anomaly_request(event, LUMIERE)
    assert isinstance(request, MessageRequest)
    assert request.channels == (Channel.EMAIL, Channel.SMS)
    assert request.link_kind is LinkKind.CHAT
    assert request.link_subject == str(event.anomaly_id)
    assert request.facts.pickup_point_name == "Tabac Presse du Marché"
    assert request.facts.pickup_hold_deadline == event.shipment.pickup_hold_deadline
    rows = plan(request, merchant_id="m1", shipment_id="s1", correlation_id="s1", now=NOW)
    assert [row.idempotency_key for row in rows] == [
        ids.notification_key(event.anomaly_id, "email", "initial"),
        ids.notification_key(event.anomaly_id, "sms", "initial"),
    ]
    assert {row.status for row in rows} == {"pending"}
    assert rows[0].notification_id == ids.notification_id(rows[0].idempotency_key)


def test_the_same_trigger_seen_twice_plans_the_same_keys() -> None:
    assert LUMIERE is not None
    event = example(anomalies.TOPIC, "AnomalyDetected-pickup-ready.json")
    assert isinstance(event, AnomalyDetected)
    redelivered = event.model_copy(update={"event_id": uuid4()})
    first = plan(
        anomaly_request(event, LUMIERE),
        merchant_id="m",
        shipment_id="s",
        correlation_id="s",
        now=NOW,
    )
    again = plan(
        anomaly_request(redelivered, LUMIERE),
        merchant_id="m",
        shipment_id="s",
        correlation_id="s",
        now=NOW,
    )
    assert [row.idempotency_key for row in first] == [row.idempotency_key for row in again]


def test_an_unbound_type_is_disabled_and_planned_as_suppressed() -> None:
    assert VELOCITY is not None
    event = example(anomalies.TOPIC, "AnomalyDetected-pickup-ready.json")
    assert isinstance(event, AnomalyDetected)
    unbound = event.model_copy(update={"anomaly_type": AnomalyType.DELIVERED_TO_THIRD_PARTY})
    request = anomaly_request(unbound, VELOCITY)
    assert isinstance(request, TriggerDisabled)
    rows = plan(request, merchant_id="m", shipment_id="s", correlation_id="s", now=NOW)
    assert [row.status for row in rows] == ["suppressed"]


def test_escalation_sends_a_reminder_only_when_bound_so() -> None:
    assert LUMIERE is not None
    event = example(anomalies.TOPIC, "AnomalyEscalated-unresolved.json")
    assert isinstance(event, AnomalyEscalated)
    late = event.model_copy(update={"anomaly_type": AnomalyType.DELIVERY_LATE, "level": 2})
    request = anomaly_request(late, LUMIERE)
    assert isinstance(request, MessageRequest)
    assert request.purpose == "escalation-2"
    assert request.template == "delivery_late_reminder"
    assert request.trigger.kind is TriggerKind.ANOMALY_ESCALATION
    stalled = event.model_copy(update={"anomaly_type": AnomalyType.STALLED})
    assert isinstance(anomaly_request(stalled, LUMIERE), TriggerDisabled)


@pytest.mark.parametrize(
    ("name", "link"),
    [
        ("ShipmentMilestoneReached-shipped-en.json", LinkKind.TRACKING_PAGE),
        ("ShipmentMilestoneReached-delivered-fr.json", LinkKind.SURVEY),
    ],
)
def test_milestones_link_to_tracking_or_survey(name: str, link: LinkKind) -> None:
    assert VELOCITY is not None
    event = example(anomalies.TOPIC, name)
    assert isinstance(event, ShipmentMilestoneReached)
    request = milestone_request(event, VELOCITY)
    assert isinstance(request, MessageRequest)
    assert request.link_kind is link
    assert request.link_subject == event.shipment_id
    assert request.trigger.ref_id == event.milestone_id


def test_action_confirmation_points_to_the_anomalys_chat() -> None:
    assert LUMIERE is not None
    event = example(action_results.TOPIC, "ActionCompleted-reship.json")
    assert isinstance(event, ActionCompleted)
    request = action_request(event, LUMIERE)
    assert isinstance(request, MessageRequest)
    assert request.purpose == "confirmation"
    expected = LinkKind.CHAT if event.anomaly_id else LinkKind.TRACKING_PAGE
    assert request.link_kind is expected
    assert request.facts.action == "reship"


def test_fallback_moves_the_message_under_the_other_channels_key() -> None:
    assert LUMIERE is not None
    event = example(anomalies.TOPIC, "AnomalyDetected-delivery-late-deadline.json")
    assert isinstance(event, AnomalyDetected)
    row = plan(
        anomaly_request(event, LUMIERE),
        merchant_id="m",
        shipment_id="s",
        correlation_id="s",
        now=NOW,
    )[0]
    moved = moved_to(row, Channel.SMS, now=NOW)
    assert moved.idempotency_key == ids.notification_key(event.anomaly_id, "sms", "initial")
    assert moved.fallback_from is Channel.EMAIL
    assert moved.facts == row.facts


def test_durable_rounds_back_off_exponentially_with_a_ceiling() -> None:
    delays = [round_delay(rounds=n, first_s=60).total_seconds() for n in (1, 2, 3, 12)]
    assert delays == [60, 120, 240, 6 * 3600]
