"""`relais fuzz`, the Kafka side's pure parts: free-text fields of the contracts, the
malformed message builders and the sentinels."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from relais_cli.fuzz.messages import (
    NO_SENTINEL,
    Example,
    MalformedKind,
    control_characters,
    invalid_fields,
    load_examples,
    malformed_messages,
    not_json,
    random_bytes,
    refused,
    sentinel,
    unknown_event_type,
    wrong_schema,
)
from relais_cli.fuzz.text_fields import (
    ANY_ITEM,
    TextKind,
    declared_text_fields,
    text_fields,
    text_leaves,
)
from relais_contracts.registry import Topic
from relais_contracts.text import MultiLine, NeutralizedLine, OptionalSingleLine, SingleLine
from relais_contracts.topics import ALL_TOPICS, anomalies, dead_letters, orders

CONSUMED = [topic for topic in ALL_TOPICS if topic.consumers]
EXAMPLE_MERCHANTS = {"maison-lune": "maison-lumiere", "northwind-outdoor": "velocity-sports"}
NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


class Line(BaseModel):
    sku: Annotated[str, Field(pattern=r"^[A-Z0-9-]+$")]
    name: SingleLine
    tags: tuple[SingleLine, ...] = ()


class Sample(BaseModel):
    title: SingleLine
    note: MultiLine
    optional: OptionalSingleLine = Field(default=None, max_length=10)
    raw: str
    reported: NeutralizedLine
    lines: list[Line]
    labels: dict[str, SingleLine]
    count: int


def examples_of(topic: Topic) -> list[Example]:
    return load_examples(topic)


def foreign_for(topic: Topic) -> Example:
    other = anomalies.TOPIC if topic is orders.TOPIC else orders.TOPIC
    return examples_of(other)[0]


def test_text_fields_follow_nesting_rules_and_skip_patterns_and_neutralized_text() -> None:
    found = {field.dotted: field.kind for field in text_fields(Sample)}

    assert found == {
        "title": TextKind.SINGLE_LINE,
        "note": TextKind.MULTI_LINE,
        "optional": TextKind.SINGLE_LINE,
        "raw": TextKind.PLAIN,
        f"lines.{ANY_ITEM}.name": TextKind.SINGLE_LINE,
        f"lines.{ANY_ITEM}.tags.{ANY_ITEM}": TextKind.SINGLE_LINE,
        f"labels.{ANY_ITEM}": TextKind.SINGLE_LINE,
    }
    assert "raw" not in {field.dotted for field in declared_text_fields(Sample)}


def test_text_leaves_expand_lists_and_mappings() -> None:
    message = {
        "lines": [{"name": "a", "tags": ["x", "y"]}, {"name": "b", "tags": []}],
        "labels": {"k": "v", "n": 3},
    }
    fields = {field.dotted: field for field in text_fields(Sample)}

    assert text_leaves(message, fields["lines.*.name"]) == [
        ("lines", 0, "name"),
        ("lines", 1, "name"),
    ]
    assert text_leaves(message, fields["lines.*.tags.*"]) == [
        ("lines", 0, "tags", 0),
        ("lines", 0, "tags", 1),
    ]
    assert text_leaves(message, fields["labels.*"]) == [("labels", "k")]
    assert text_leaves(message, fields["title"]) == []


def test_order_placed_free_text_includes_names_and_instructions() -> None:
    found = {field.dotted: field.kind for field in text_fields(orders.OrderPlaced)}

    assert found["order_number"] is TextKind.SINGLE_LINE
    assert found["delivery.address.instructions"] is TextKind.MULTI_LINE
    assert found["parcels.*.items.*.name"] is TextKind.SINGLE_LINE
    assert "merchant_id" not in found  # a slug with a pattern, not free text
    assert "order_id" not in found


def test_random_bytes_are_deterministic_for_a_seed() -> None:
    first = random_bytes(random.Random(3), count=4)
    again = random_bytes(random.Random(3), count=4)

    assert first == again
    assert [len(value) for _, value in first] == [1, 7, 64, 512]


@pytest.mark.parametrize("topic", CONSUMED, ids=lambda topic: topic.name)
def test_every_builder_except_control_characters_is_refused_by_its_topic(topic: Topic) -> None:
    examples = examples_of(topic)
    example = examples[0]
    candidates = [
        *not_json(example),
        *wrong_schema(example, foreign_for(topic)),
        *unknown_event_type(example),
    ]
    for item in examples:
        candidates += invalid_fields(item)
    accepted = [description for description, value in candidates if not refused(topic, value)]

    # A few mutations may stay valid for some message types (the builders are generic);
    # malformed_messages filters those out, but most must be refused.
    assert len(accepted) <= len(candidates) // 10, accepted


@pytest.mark.parametrize("topic", CONSUMED, ids=lambda topic: topic.name)
def test_malformed_messages_cover_every_kind_and_are_refused(topic: Topic) -> None:
    messages = malformed_messages(
        topic,
        examples_of(topic),
        foreign=foreign_for(topic),
        rng=random.Random(f"7:{topic.name}"),
        per_kind=3,
    )
    kinds = Counter(message.kind for message in messages)

    assert set(kinds) == {kind.value for kind in MalformedKind}
    assert all(count <= 3 for count in kinds.values())
    assert all(message.topic == topic.name and message.key for message in messages)
    for message in messages:
        if message.kind != MalformedKind.CONTROL_CHARACTERS:
            assert refused(topic, message.value), message.description


def test_malformed_messages_are_the_same_for_the_same_seed() -> None:
    def build(seed: str) -> list[tuple[str, str, bytes]]:
        return [
            (message.kind, message.description, message.value)
            for message in malformed_messages(
                orders.TOPIC,
                examples_of(orders.TOPIC),
                foreign=foreign_for(orders.TOPIC),
                rng=random.Random(seed),
                per_kind=4,
            )
        ]

    assert build("1") == build("1")
    assert build("1") != build("2")


def test_control_characters_go_into_declared_free_text_only() -> None:
    example = next(item for item in examples_of(orders.TOPIC) if item.model is orders.OrderPlaced)
    found = control_characters(example, random.Random(0))
    declared = {field.dotted for field in declared_text_fields(orders.OrderPlaced)}

    assert found
    for description, value in found:
        body = json.loads(value)
        where = description.split(" in ", 1)[1].split(" (", 1)[0]
        path = [int(step) if step.isdigit() else step for step in where.split(".")]
        node = body
        for step in path:
            node = node[step]
        assert any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in node if c != "\n"), where
        generic = ".".join(ANY_ITEM if isinstance(step, int) else step for step in path)
        assert generic in declared


def test_control_characters_in_a_multi_line_field_are_not_only_line_feeds() -> None:
    found = []
    for topic in CONSUMED:
        for example in examples_of(topic):
            multi_line = [
                field.dotted
                for field in declared_text_fields(example.model)
                if field.kind is TextKind.MULTI_LINE and text_leaves(example.body, field)
            ]
            found += [
                value
                for description, value in control_characters(example, random.Random(1))
                if any(f" in {where} (multi_line)" in description for where in multi_line)
            ]

    assert found
    for value in found:
        assert any(
            c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)
            for text in strings(json.loads(value))
            for c in text
        )


def strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in strings(value)]
    return []


@pytest.mark.parametrize("topic", CONSUMED, ids=lambda topic: topic.name)
def test_sentinels_are_valid_messages_of_the_run_merchants(topic: Topic) -> None:
    found = sentinel(
        topic,
        examples_of(topic),
        merchants=EXAMPLE_MERCHANTS,
        rng=random.Random(5),
        now=NOW,
    )

    if topic.name in NO_SENTINEL:
        assert found is None
        return
    assert found is not None
    event = topic.decode(found.value)
    assert event.merchant_id in {*EXAMPLE_MERCHANTS.values(), "unknown"}
    assert event.produced_at == NOW
    assert found.key == event.partition_key()
    originals = {str(item.body["event_id"]) for item in examples_of(topic)}
    assert str(event.event_id) not in originals


def test_the_dead_letter_topic_is_consumed_by_nobody() -> None:
    assert dead_letters.TOPIC not in CONSUMED
