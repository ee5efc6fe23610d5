"""Free text refuses control characters, with an error naming the field (relais_contracts.text).

The audit below injects a line feed into every string of every example message: each
one is refused on its own field, except the few fields that are multi-line on purpose,
neutralized on purpose, or raw.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from contracts_examples import EXAMPLES, Example
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from relais_contracts.common import CustomerContact, PostalAddress
from relais_contracts.export import message_schema
from relais_contracts.text import (
    MULTI_LINE_PATTERN,
    SINGLE_LINE_PATTERN,
    MultiLine,
    NeutralizedLine,
    OptionalSingleLine,
    SingleLine,
    describe_character,
    first_control_character,
    neutralize_control_characters,
    normalize_line_breaks,
)
from relais_contracts.topics import orders
from relais_contracts.webhooks import ActionWebhookRequest, ActionWebhookResponse

Path = tuple[str | int, ...]

CONTROL_SAMPLES = ("\x00", "\x01", "\t", "\n", "\x0b", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\x9f")
"""The edges and the usual suspects of Unicode category Cc."""

MULTI_LINE_FIELDS = frozenset(
    {"text", "note", "comment", "reason", "instructions", "opening_hours", "body"}
)
"""Text typed in a text area: keeps LF (only ReturnLabelRequest.reason among `reason`s)."""

NEUTRALIZED_FIELDS = frozenset({"detail", "provider_status", "provider_message_id", "content_type"})
"""Third-party wording Relais reports: control characters become spaces."""

UNCHECKED_FIELDS = frozenset(
    {"payload", "message", "consumer_group", "source_topic", "source_key_b64", "original_value_b64"}
)
"""Raw bytes as received (carrier payloads) and dead letters, which must be publishable
whatever the bad input was."""


class _Text(BaseModel):
    line: SingleLine
    optional: OptionalSingleLine = None
    lines: MultiLine = ""
    reported: NeutralizedLine = ""


def _strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _with(data: dict[str, Any], path: Path, value: str) -> dict[str, Any]:
    mutated = copy.deepcopy(data)
    target: Any = mutated
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return mutated


def _names_field(problem: ErrorDetails, path: Path) -> bool:
    """The error's location is the field's path (union tags may sit in between); a bad
    discriminator (`event_type`, `action`, a campaign content's `kind`) is reported by
    pydantic on its union."""
    if problem["type"] == "union_tag_invalid":
        return path[-1] in {"event_type", "action", "kind"}
    loc = problem["loc"]
    remaining = iter(loc)
    return bool(loc) and loc[-1] == path[-1] and all(part in remaining for part in path)


def _exempt(path: Path) -> bool:
    name = path[-1]
    in_headers = len(path) >= 2 and path[-2] == "source_headers"
    return in_headers or (
        isinstance(name, str) and name in MULTI_LINE_FIELDS | NEUTRALIZED_FIELDS | UNCHECKED_FIELDS
    )


@pytest.mark.parametrize("character", CONTROL_SAMPLES, ids=describe_character)
def test_single_line_refuses_every_control_character(character: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Text(line=f"A{character}B")
    (problem,) = caught.value.errors()
    assert problem["loc"] == ("line",)
    assert f"control character {describe_character(character)} at position 1" in problem["msg"]
    with pytest.raises(ValidationError):
        _Text(line="ok", optional=character)


def test_multi_line_keeps_line_feeds_and_refuses_the_rest() -> None:
    assert _Text(line="x", lines="first\nsecond").lines == "first\nsecond"
    for character in set(CONTROL_SAMPLES) - {"\n"}:
        with pytest.raises(ValidationError) as caught:
            _Text(line="x", lines=f"first{character}second")
        assert caught.value.errors()[0]["loc"] == ("lines",)


def test_neutralized_line_replaces_each_run_by_one_space() -> None:
    assert _Text(line="x", reported="550 5.1.1\r\n  user\x00unknown").reported == (
        "550 5.1.1   user unknown"
    )
    assert neutralize_control_characters("a\r\n\t\x1bb") == "a b"
    assert normalize_line_breaks("a\r\nb\rc\n") == "a\nb\nc\n"


def test_ordinary_unicode_is_not_a_control_character() -> None:
    text = "Zoë Müller, 12 rue de l\u2019Église \u2013 2\u00e8me \u00e9tage \u20ac \U0001f4e6\u00a0"
    assert first_control_character(text) is None
    assert _Text(line=text).line == text


def test_the_refusal_never_echoes_the_value() -> None:
    with pytest.raises(ValidationError) as caught:
        CustomerContact(
            first_name="Secret\nName", locale="fr-FR", time_zone="Europe/Paris", email=None
        )
    problem = caught.value.errors(include_input=False)[0]
    assert problem["loc"] == ("first_name",)
    assert "Secret" not in problem["msg"]


def test_an_order_number_with_a_line_feed_is_refused_naming_the_field() -> None:
    data = next(e.data for e in EXAMPLES if e.event_type == "OrderPlaced")
    data["order_number"] = "A\r\nBcc: x@y"
    with pytest.raises(ValidationError) as caught:
        orders.TOPIC.decode(json.dumps(data))
    (problem,) = caught.value.errors()
    assert problem["loc"][-1] == "order_number"
    assert "U+000D (CR)" in problem["msg"]


def test_lengths_keep_their_own_messages_on_optional_text() -> None:
    with pytest.raises(ValidationError) as caught:
        PostalAddress(line1="1 rue", line2="x" * 201, postal_code="1", city="c", country="FR")
    assert caught.value.errors()[0]["type"] == "string_too_long"


def test_webhook_bodies_refuse_or_neutralize() -> None:
    request = json.loads(
        json.dumps(
            {
                "action_id": "7b0d6f4c-4f6c-4d4a-9a52-0d1b9e0c9a11",
                "merchant_id": "shop-a",
                "requested_at": "2026-03-02T10:00:00+01:00",
                "attempt": 1,
                "automatic": False,
                "action": {"action": "refund"},
                "order_id": "o-1",
                "order_number": "#1\n2",
                "shipment_id": "s-1",
            }
        )
    )
    with pytest.raises(ValidationError) as caught:
        ActionWebhookRequest.model_validate(request)
    assert caught.value.errors()[0]["loc"] == ("order_number",)
    answer = ActionWebhookResponse.model_validate(
        {"status": "completed", "reference": "R-1\r\n", "voucher_code": "V\t1", "message": "ok\n"}
    )
    assert (answer.reference, answer.voucher_code, answer.message) == ("R-1 ", "V 1", "ok ")


@pytest.mark.parametrize("item", EXAMPLES, ids=lambda e: f"{e.topic.name}/{e.path.name}")
def test_every_string_of_every_example_refuses_a_line_feed(item: Example) -> None:
    data = item.data
    accepted = []
    for path, value in _strings(data):
        mutated = _with(data, path, f"{value[:1]}\n{value[1:]}")
        try:
            item.topic.decode(json.dumps(mutated))
        except ValidationError as error:
            problems = error.errors()
            assert any(_names_field(problem, path) for problem in problems), (path, problems)
        else:
            accepted.append(path)
    unexpected = [path for path in accepted if not _exempt(path)]
    assert not unexpected, f"free text that takes a line feed: {unexpected}"


@pytest.mark.parametrize("item", EXAMPLES, ids=lambda e: f"{e.topic.name}/{e.path.name}")
def test_multi_line_fields_still_refuse_other_controls(item: Example) -> None:
    data = item.data
    for path, value in _strings(data):
        if path[-1] not in MULTI_LINE_FIELDS or not isinstance(path[-1], str):
            continue
        if item.topic.name.startswith("relais.dead-letters"):
            continue
        for character in ("\r", "\x00", "\x1b"):
            with pytest.raises(ValidationError):
                item.topic.decode(json.dumps(_with(data, path, f"{value}{character}")))


def test_the_json_schema_says_the_same() -> None:
    topic = orders.TOPIC
    item = next(e for e in EXAMPLES if e.event_type == "OrderPlaced")
    validator = Draft202012Validator(message_schema(topic, orders.OrderPlaced))
    assert not list(validator.iter_errors(item.data))
    bad = {**item.data, "order_number": "A\nB"}
    errors = list(validator.iter_errors(bad))
    assert [list(error.path) for error in errors] == [["order_number"]]
    schema = json.dumps(message_schema(topic, orders.OrderPlaced))
    assert json.dumps(SINGLE_LINE_PATTERN) in schema
    assert json.dumps(MULTI_LINE_PATTERN) in schema, "delivery instructions may span lines"
