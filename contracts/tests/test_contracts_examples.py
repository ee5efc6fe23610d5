"""Every example message is valid, round-trips, and every event type has one."""

from __future__ import annotations

import json

import pytest
from contracts_examples import EXAMPLES, Example

from relais_contracts.registry import EXAMPLES_DIR
from relais_contracts.topics import ALL_TOPICS


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 40


def test_example_decodes_with_its_topic(example: Example) -> None:
    event = example.topic.decode(example.raw)
    assert event.event_type == example.event_type, "file name starts with the event type"
    assert event.schema_version == example.topic.schema_version


def test_example_round_trips(example: Example) -> None:
    event = example.topic.decode(example.raw)
    again = example.topic.decode(event.model_dump_json())
    assert again == event
    assert json.loads(event.model_dump_json()) == example.data, "examples are written in full"


def test_example_key_field_exists_and_gives_a_key(example: Example) -> None:
    event = example.topic.decode(example.raw)
    assert type(event).partition_key_field in example.data or example.data.get("event_id")
    key, value = example.topic.encode(event)
    assert key
    assert b"None" not in key
    assert example.topic.decode(value) == event


def test_shipment_keys_are_scoped_by_merchant(example: Example) -> None:
    event = example.topic.decode(example.raw)
    if "shipment_id" in example.data:
        assert event.partition_key() == (
            f"{example.data['merchant_id']}/{example.data['shipment_id']}".encode()
        )


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_every_event_type_has_an_example(topic: object) -> None:
    from relais_contracts.registry import Topic

    assert isinstance(topic, Topic)
    covered = {e.event_type for e in EXAMPLES if e.topic is topic}
    assert set(topic.event_types) <= covered, f"missing examples in {topic.examples_dir()}"


def test_no_example_directory_without_a_topic() -> None:
    names = {topic.name for topic in ALL_TOPICS}
    assert {path.name for path in EXAMPLES_DIR.iterdir() if path.is_dir()} <= names


def test_examples_cover_both_languages_and_several_carriers() -> None:
    locales: set[str] = set()
    carriers: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "locale" and isinstance(item, str):
                    locales.add(item.split("-")[0])
                if key == "carrier" and isinstance(item, str):
                    carriers.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for example in EXAMPLES:
        walk(example.data)
    assert {"fr", "en"} <= locales
    assert len(carriers) >= 4
