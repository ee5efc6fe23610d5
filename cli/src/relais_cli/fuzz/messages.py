"""Kafka messages for the fuzzer: malformed ones every consumer must dead-letter, and one
valid sentinel per topic that must be processed after them.

Rules:
- every builder is deterministic for a given `random.Random` and does no I/O (only
  `load_examples` reads the contracts' example files);
- malformed kinds: random bytes, not JSON, JSON that is not an envelope (or another
  topic's event), an unknown event type, a valid envelope with one invalid value, and
  control characters in a free-text field that declares it refuses them
  (relais_contracts.text, see text_fields);
- a builder's message is kept only if the topic's own contract refuses it
  (`Topic.decode` raises): a mutation that happens to stay valid is not a test of
  anything. Control characters are the exception: they are kept even when the
  contract accepts them, because that acceptance is exactly what the run must report;
- a sentinel is a contract example with a fresh event id, the run's merchants and
  `produced_at` now, encoded by the topic itself (`Topic.encode`), so it is valid by
  construction. Topics whose consumer refuses any command it did not issue itself
  (the action commands and their retry tiers) get none.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from relais_cli.fuzz.text_fields import declared_text_fields, text_leaves
from relais_contracts.envelope import Event
from relais_contracts.registry import Topic, event_type_of

ENVELOPE_FIELDS: Final = frozenset(Event.model_fields)

NO_SENTINEL: Final = {
    "relais.action-commands.v1": "the actions service refuses a command it never decided",
    "relais.action-commands.retry-30s.v1": "retry tier: only commands the service re-queued",
    "relais.action-commands.retry-5m.v1": "retry tier: only commands the service re-queued",
    "relais.action-commands.retry-30m.v1": "retry tier: only commands the service re-queued",
}
"""Topics without a sentinel, and why; their consumers' progress is still checked."""

PREFERRED_SENTINELS: Final = {
    "relais.orders.v1": "OrderPlaced-home-colissimo",
    "relais.carrier-updates.v1": "CarrierUpdateReceived-dhl-webhook",
    "relais.anomalies.v1": "AnomalyDetected-failed-attempt-en",
    "relais.conversations.v1": "TrackingPageViewed-sms-link",
    "relais.notifications.v1": "NotificationSent-email-fr",
    "relais.action-results.v1": "ActionCompleted-reship",
}
"""The example each topic's sentinel is made of (else the topic's first example)."""

CONTROL_PAYLOADS: Final = (
    ("CR LF", "\r\nBcc: fuzz@example.invalid"),
    ("NUL", "\x00"),
    ("ESC", "\x1b[31m"),
    ("DEL", "\x7f"),
    ("TAB", "\t"),
    ("NEL (C1)", "\x85"),
    ("BEL", "\x07"),
)
"""Each holds at least one control character other than LF: refused by SingleLine and
MultiLine alike."""


class MalformedKind(StrEnum):
    RANDOM_BYTES = "random_bytes"
    NOT_JSON = "not_json"
    WRONG_SCHEMA = "wrong_schema"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_FIELD = "invalid_field"
    CONTROL_CHARACTERS = "control_characters"


@dataclass(frozen=True)
class Example:
    """One contract example message, decoded JSON, with the model it validates as."""

    topic: str
    name: str
    model: type[Event]
    body: dict[str, Any]


@dataclass(frozen=True)
class FuzzMessage:
    topic: str
    kind: str
    """A MalformedKind value, or "sentinel"."""
    description: str
    key: bytes
    value: bytes


Candidate = tuple[str, bytes]
"""(description, value) before sampling."""


def load_examples(topic: Topic) -> list[Example]:
    """The topic's example files (sorted by name), decoded with the topic's contract."""
    examples = []
    for path in sorted(topic.examples_dir().glob("*.json")):
        event = topic.decode(path.read_bytes())
        examples.append(
            Example(
                topic=topic.name,
                name=path.stem,
                model=type(event),
                body=json.loads(path.read_bytes()),
            )
        )
    return examples


def _dump(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def random_bytes(rng: random.Random, *, count: int) -> list[Candidate]:
    sizes = [1, 7, 64, 512, 4096]
    return [
        (f"{size} random bytes", rng.randbytes(size))
        for size in (sizes[index % len(sizes)] for index in range(count))
    ]


def not_json(example: Example) -> list[Candidate]:
    valid = _dump(example.body)
    return [
        ("empty value", b""),
        ("plain text", b"hello, relais"),
        ("unterminated object", b'{"event_type": '),
        ("truncated example", valid[: len(valid) // 2]),
        ("example with trailing garbage", valid + b"}}"),
        ("single-quoted keys", valid.replace(b'"', b"'")),
        ("invalid UTF-8 inside a string", b'{"event_type": "\xff\xfe"}'),
        ("XML", b"<event><type>OrderPlaced</type></event>"),
        ("UTF-16 encoded example", json.dumps(example.body).encode("utf-16")),
    ]


def wrong_schema(example: Example, foreign: Example | None) -> list[Candidate]:
    envelope_only = {key: value for key, value in example.body.items() if key in ENVELOPE_FIELDS}
    found: list[Candidate] = [
        ("JSON array", b"[]"),
        ("JSON number", b"42"),
        ("JSON string", b'"hello"'),
        ("JSON null", b"null"),
        ("JSON true", b"true"),
        ("empty object", b"{}"),
        ("object without an envelope", _dump({"hello": "world", "items": [1, 2, 3]})),
        ("example wrapped in an array", _dump([example.body])),
        ("example wrapped in an object", _dump({"event": example.body})),
        ("envelope without the message's own fields", _dump(envelope_only)),
    ]
    if foreign is not None:
        found.append((f"another topic's event ({foreign.name})", _dump(foreign.body)))
    return found


def unknown_event_type(example: Example) -> list[Candidate]:
    name = str(example.body.get("event_type", ""))
    variants: list[tuple[str, Any]] = [
        ("event_type that no topic carries", "ParcelTeleported"),
        ("event_type in lower case", name.lower()),
        ("event_type with a trailing space", name + " "),
        ("event_type empty", ""),
        ("event_type is a number", 7),
        ("event_type is null", None),
    ]
    found = [
        (description, _dump({**example.body, "event_type": value}))
        for description, value in variants
    ]
    without = {key: value for key, value in example.body.items() if key != "event_type"}
    found.append(("event_type missing", _dump(without)))
    return found


def _wrong_type(value: Any) -> Any:
    """A JSON value of another type than `value`'s, that no lax conversion turns back."""
    if isinstance(value, bool):
        return [value]
    if isinstance(value, int | float):
        return {"value": value}
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, dict):
        return [value]
    return {"unexpected": True}


def _required_message_fields(example: Example) -> list[str]:
    return [
        field.alias or name
        for name, field in example.model.model_fields.items()
        if field.is_required()
        and name not in ENVELOPE_FIELDS
        and (field.alias or name) in example.body
    ]


class _Change(StrEnum):
    REMOVE = "remove"
    RETYPE = "retype"


def invalid_fields(example: Example) -> list[Candidate]:
    """The example with one envelope or message field made invalid, one per candidate."""
    body = example.body
    occurred = str(body.get("occurred_at", "2025-03-03T10:42:17+01:00"))
    mutations: list[tuple[str, str, Any]] = [
        ("event_id is not a UUID", "event_id", "not-a-uuid"),
        ("event_id missing", "event_id", _Change.REMOVE),
        ("produced_at missing", "produced_at", _Change.REMOVE),
        ("occurred_at is not a time", "occurred_at", "yesterday"),
        ("occurred_at without a UTC offset", "occurred_at", occurred[:19]),
        ("schema_version 0", "schema_version", 0),
        ("schema_version 99", "schema_version", 99),
        ("merchant_id is not a slug", "merchant_id", "Not A Slug!"),
        ("merchant_id empty", "merchant_id", ""),
        ("correlation_id empty", "correlation_id", ""),
        ("correlation_id of 129 characters", "correlation_id", "x" * 129),
    ]
    for name in ("shipment_id", "order_id"):
        if isinstance(body.get(name), str):
            mutations.append((f"{name} with spaces", name, "not an id é"))
    for name in _required_message_fields(example):
        mutations.append((f"{name} missing", name, _Change.REMOVE))
        mutations.append((f"{name} of the wrong JSON type", name, _Change.RETYPE))
    found = []
    for description, name, value in mutations:
        mutated = copy.deepcopy(body)
        if value is _Change.REMOVE:
            mutated.pop(name, None)
        elif value is _Change.RETYPE:
            mutated[name] = _wrong_type(mutated.get(name))
        else:
            mutated[name] = value
        found.append((description, _dump(mutated)))
    return found


def _set_leaf(body: Any, path: tuple[str | int, ...], value: str) -> None:
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def control_characters(example: Example, rng: random.Random) -> list[Candidate]:
    """One candidate per string leaf of a declared free-text field, each with one of
    CONTROL_PAYLOADS in the middle of its value."""
    found = []
    for field in declared_text_fields(example.model):
        for leaf in text_leaves(example.body, field):
            label, payload = rng.choice(CONTROL_PAYLOADS)
            mutated = copy.deepcopy(example.body)
            node: Any = mutated
            for step in leaf:
                node = node[step]
            original = str(node)
            middle = len(original) // 2
            _set_leaf(mutated, leaf, original[:middle] + payload + original[middle:])
            where = ".".join(str(step) for step in leaf)
            found.append((f"{label} in {where} ({field.kind.value})", _dump(mutated)))
    return found


def refused(topic: Topic, value: bytes) -> bool:
    """Whether the topic's contract refuses `value` (any exception counts: one that is
    not a ValidationError is a finding of its own, for the consumer to survive)."""
    try:
        topic.decode(value)
    except Exception:
        return True
    return False


def malformed_messages(
    topic: Topic,
    examples: Sequence[Example],
    *,
    foreign: Example | None,
    rng: random.Random,
    per_kind: int,
) -> list[FuzzMessage]:
    """Up to `per_kind` malformed messages of each kind for `topic`, sampled with `rng`."""
    if not examples:
        raise ValueError(f"{topic.name} has no example to build malformed messages from")
    first = examples[0]
    candidates: dict[MalformedKind, list[Candidate]] = {
        MalformedKind.RANDOM_BYTES: random_bytes(rng, count=per_kind),
        MalformedKind.NOT_JSON: not_json(first),
        MalformedKind.WRONG_SCHEMA: wrong_schema(first, foreign),
        MalformedKind.UNKNOWN_EVENT_TYPE: unknown_event_type(first),
        MalformedKind.INVALID_FIELD: [
            item for example in examples for item in invalid_fields(example)
        ],
        MalformedKind.CONTROL_CHARACTERS: [
            item for example in examples for item in control_characters(example, rng)
        ],
    }
    messages = []
    for kind, found in candidates.items():
        if kind is not MalformedKind.CONTROL_CHARACTERS:
            found = [item for item in found if refused(topic, item[1])]
        chosen = found if len(found) <= per_kind else rng.sample(found, per_kind)
        for index, (description, value) in enumerate(chosen):
            messages.append(
                FuzzMessage(
                    topic=topic.name,
                    kind=kind.value,
                    description=description,
                    key=f"fuzz/{kind.value}-{index}".encode(),
                    value=value,
                )
            )
    return messages


def sentinel(
    topic: Topic,
    examples: Sequence[Example],
    *,
    merchants: Mapping[str, str],
    rng: random.Random,
    now: datetime,
) -> FuzzMessage | None:
    """A valid message for `topic` (None for the topics of NO_SENTINEL): an example with
    a fresh event id, `produced_at` now and its merchant renamed through `merchants`."""
    if topic.name in NO_SENTINEL or not examples:
        return None
    preferred = PREFERRED_SENTINELS.get(topic.name)
    example = next((item for item in examples if item.name == preferred), examples[0])
    body = copy.deepcopy(example.body)
    body["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    body["produced_at"] = now.isoformat()
    body["merchant_id"] = merchants.get(str(body.get("merchant_id")), body.get("merchant_id"))
    event = topic.decode(_dump(body))
    key, value = topic.encode(event)
    return FuzzMessage(
        topic=topic.name,
        kind="sentinel",
        description=f"{event_type_of(type(event))} from {example.name}",
        key=key,
        value=value,
    )
