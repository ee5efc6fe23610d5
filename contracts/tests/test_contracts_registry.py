"""The topic registry's invariants, and how decode/encode treat bad input."""

from __future__ import annotations

import inspect
import json
import re
from uuid import uuid4

import pytest
from contracts_examples import EXAMPLES
from pydantic import ValidationError

from relais_contracts.registry import Cleanup, Service, Topic, schema_version_of
from relais_contracts.topics import ALL_TOPICS, action_commands, topic_named, topic_of

TOPIC_IDS = [t.name for t in ALL_TOPICS]


def test_names_unique() -> None:
    assert len({t.name for t in ALL_TOPICS}) == len(ALL_TOPICS)


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=TOPIC_IDS)
def test_topic_invariants(topic: Topic) -> None:
    assert re.fullmatch(r"relais\.[a-z0-9-]+(\.[a-z0-9-]+)?\.v[0-9]+", topic.name)
    assert topic.name.endswith(f".v{topic.schema_version}")
    assert topic.producers, "every topic has a producer"
    assert topic.partitions > 0
    assert topic.key.strip()
    assert topic.description.strip()
    assert topic.message_types
    if topic.cleanup is Cleanup.COMPACT:
        assert topic.retention_ms is None
        assert "shipment_id" in topic.key or "order_id" in topic.key
        assert all(m.partition_key_field in m.model_fields for m in topic.message_types)
    for model in topic.message_types:
        assert schema_version_of(model) == topic.schema_version
        assert model.__doc__
        assert inspect.getdoc(model) != inspect.getdoc(model.__mro__[1])
        assert model.partition_key_field in model.model_fields


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=TOPIC_IDS)
def test_kafka_config(topic: Topic) -> None:
    config = topic.kafka_config()
    assert config["cleanup.policy"] == topic.cleanup.value
    assert all(isinstance(v, str) for v in config.values())


def test_event_types_unique_across_topic_families() -> None:
    retry_names = {t.name for t in action_commands.RETRY_TOPICS}
    seen: dict[str, str] = {}
    for topic in ALL_TOPICS:
        if topic.name in retry_names:
            assert topic.event_types == action_commands.TOPIC.event_types
            continue
        for event_type in topic.event_types:
            assert event_type not in seen, (
                f"{event_type} on {seen.get(event_type)} and {topic.name}"
            )
            seen[event_type] = topic.name


def test_lookups() -> None:
    assert topic_named("relais.orders.v1").event_types[0] == "OrderPlaced"
    assert topic_of("ExecuteAction") is action_commands.TOPIC
    with pytest.raises(KeyError):
        topic_named("relais.nope.v1")
    with pytest.raises(KeyError):
        topic_of("Nope")


def test_every_service_has_a_role() -> None:
    roles = {s for t in ALL_TOPICS for s in (*t.producers, *t.consumers)}
    for service in (Service.TRACKER, Service.DETECTOR, Service.NOTIFIER, Service.CHAT):
        assert service in roles
    assert Service.ACTIONS in roles


def test_retry_tiers() -> None:
    assert action_commands.retry_topic_for(2)[0] is action_commands.RETRY_TOPICS[0]
    assert action_commands.retry_topic_for(99)[0] is action_commands.RETRY_TOPICS[-1]
    delays = [delay for _, delay in action_commands.RETRY_TIERS]
    assert delays == sorted(delays)
    with pytest.raises(ValueError, match="first attempt"):
        action_commands.retry_topic_for(1)


def _example(event_type: str) -> dict[str, object]:
    return next(e.data for e in EXAMPLES if e.event_type == event_type)


def test_decode_rejects_malformed_json() -> None:
    with pytest.raises(ValidationError):
        topic_named("relais.orders.v1").decode(b"{not json")


def test_decode_rejects_an_event_type_of_another_topic() -> None:
    raw = json.dumps(_example("TrackingEventRecorded"))
    with pytest.raises(ValidationError):
        topic_named("relais.orders.v1").decode(raw)


def test_decode_rejects_unknown_event_type() -> None:
    data = {**_example("OrderPlaced"), "event_type": "OrderTeleported"}
    with pytest.raises(ValidationError):
        topic_named("relais.orders.v1").decode(json.dumps(data))


@pytest.mark.parametrize("field", ["event_id", "produced_at"])
def test_decode_requires_envelope_fields_on_the_wire(field: str) -> None:
    data = _example("OrderPlaced")
    del data[field]
    with pytest.raises(ValidationError, match="missing on the wire"):
        topic_named("relais.orders.v1").decode(json.dumps(data))


def test_decode_ignores_unknown_fields() -> None:
    data = {**_example("OrderCancelled"), "added_in_a_later_minor": {"x": 1}}
    event = topic_named("relais.orders.v1").decode(json.dumps(data))
    assert event.event_type == "OrderCancelled"


@pytest.mark.parametrize("merchant", [None, "unknown", "Not A Slug"])
def test_decode_requires_a_real_merchant_on_merchant_events(merchant: object) -> None:
    data = {**_example("AnomalyDetected"), "merchant_id": merchant}
    with pytest.raises(ValidationError):
        topic_named("relais.anomalies.v1").decode(json.dumps(data))


def test_unknown_merchant_is_allowed_where_the_producer_cannot_know_it() -> None:
    data = next(e.data for e in EXAMPLES if e.path.stem == "CarrierUpdateReceived-dhl-webhook")
    assert data["merchant_id"] == "unknown"
    event = topic_named("relais.carrier-updates.v1").decode(json.dumps(data))
    assert event.partition_key().startswith(b"dhl:")


def test_encode_refuses_a_foreign_event() -> None:
    event = topic_named("relais.orders.v1").decode(json.dumps(_example("OrderCancelled")))
    with pytest.raises(TypeError):
        topic_named("relais.anomalies.v1").encode(event)


def test_construction_in_python_fills_envelope_defaults() -> None:
    from relais_contracts.topics.orders import OrderCancelled

    event = OrderCancelled(
        occurred_at="2025-03-05T09:12:00+01:00",  # type: ignore[arg-type]
        merchant_id="maison-lune",
        correlation_id="o-1",
        order_id="o-1",
    )
    assert event.event_id != uuid4()
    assert event.partition_key() == b"maison-lune/o-1"
