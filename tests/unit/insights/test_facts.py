"""Facts from real contract messages (the registry's examples): the kind, the ids, the
figures KPIs need and no personal data (only a survey comment, erased with the parcel)."""

from __future__ import annotations

import json

import pytest

from relais_contracts.envelope import Event
from relais_contracts.topics import shipment_state
from relais_insights.domain.facts import fact_of, region_of, shipment_fact
from relais_insights.handlers.consumers import subscriptions
from relais_insights.topics import FACT_TOPICS, group_of

EXAMPLES = [
    (topic, path) for topic in FACT_TOPICS for path in sorted(topic.examples_dir().glob("*.json"))
]
PERSONAL_WORDS = ("@", "+33", "rue ", "street")


@pytest.mark.parametrize(("topic", "path"), EXAMPLES, ids=[p.name for _, p in EXAMPLES])
def test_every_example_leaves_a_compact_fact(topic: object, path: object) -> None:
    event: Event = topic.decode(path.read_bytes())  # type: ignore[attr-defined]
    fact = fact_of(event)
    assert fact is not None, event.event_type
    assert fact.event_id == event.event_id
    assert fact.occurred_at == event.occurred_at
    detail = json.dumps(dict(fact.detail))
    if fact.kind != "survey_answered":
        assert not any(word in detail.lower() for word in PERSONAL_WORDS), detail


def test_anomaly_fact_names_type_carrier_and_anomaly() -> None:
    from relais_contracts.topics import anomalies

    path = next(anomalies.TOPIC.examples_dir().glob("AnomalyDetected*.json"))
    event = anomalies.TOPIC.decode(path.read_bytes())
    assert isinstance(event, anomalies.AnomalyDetected)
    fact = fact_of(event)
    assert fact is not None
    assert fact.kind == "anomaly_detected"
    assert fact.ref_id == event.anomaly_id
    assert fact.detail["anomaly_type"] == event.anomaly_type.value
    assert fact.detail.get("carrier") == event.shipment.carrier


def test_shipment_snapshot_keeps_region_not_address() -> None:
    path = next(shipment_state.TOPIC.examples_dir().glob("*.json"))
    state = shipment_state.TOPIC.decode(path.read_bytes())
    assert isinstance(state, shipment_state.ShipmentStateChanged)
    snapshot = shipment_fact(state)
    assert snapshot.version == state.version
    assert snapshot.carrier == state.carrier
    assert snapshot.region is not None
    assert len(snapshot.region) <= 5


def test_region_is_country_and_two_postcode_characters() -> None:
    assert region_of("FR", "75011") == "FR-75"
    assert region_of("GB", "sw1a 1aa") == "GB-SW"
    assert region_of("BE", None) == "BE"
    assert region_of(None, "75011") is None


def test_one_subscription_per_topic_of_the_flow() -> None:
    names = {s.topic.name for s in subscriptions()}
    assert names == {
        "relais.orders.v1",
        "relais.tracking-events.v1",
        "relais.shipment-state.v1",
        "relais.anomalies.v1",
        "relais.notifications.v1",
        "relais.conversations.v1",
        "relais.action-commands.v1",
        "relais.action-results.v1",
    }
    assert group_of(shipment_state.TOPIC) == "insights.shipment-state"
