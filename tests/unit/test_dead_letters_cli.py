"""`relais dead-letters`, the pure parts: durations and times, filters, reading letters
back tolerantly, describing bytes, and the record a replay publishes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from relais_cli.dead_letters import (
    DeadLetter,
    Filters,
    build_filters,
    build_replay,
    compacted_topics,
    describe_bytes,
    describe_key,
    details,
    parse_duration,
    parse_letter,
    parse_moment,
    replay_hazard,
    select,
    source_key,
    summary,
)
from relais_contracts.topics import shipment_state
from relais_contracts.topics.dead_letters import DeadLetterReason, MessageDeadLettered
from relais_runtime.dead_letters import REPLAY_FOR_HEADER, REPLAY_OF_HEADER

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
ORIGINAL = b'{"event_type": "OrderPlaced", "order_id": "o-1"}'


def wire(
    *,
    group: str = "notifier.anomalies",
    topic: str = "relais.anomalies.v1",
    kind: str = "handler_failed",
    at: datetime = NOW,
    offset: int = 7,
    key: bytes | None = b"acme/shp-1",
    value: bytes = ORIGINAL,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> bytes:
    """A dead letter as a consumer writes it (the contract), with any kind and extra fields."""
    letter = MessageDeadLettered(
        occurred_at=at,
        merchant_id="acme",
        correlation_id="shp-1",
        consumer_group=group,
        source_topic=topic,
        source_partition=1,
        source_offset=offset,
        source_key_b64=None if key is None else MessageDeadLettered.encode_bytes(key),
        source_headers=headers if headers is not None else {"content-type": "application/json"},
        original_value_b64=MessageDeadLettered.encode_bytes(value),
        reason=DeadLetterReason(kind="handler_failed", message="ValueError: boom", attempts=1),
    )
    data = json.loads(letter.model_dump_json())
    data["reason"]["kind"] = kind
    data.update(extra)
    return json.dumps(data).encode()


def letter(**fields: Any) -> DeadLetter:
    return parse_letter(wire(**fields), partition=0, offset=fields.get("offset", 7))


# durations and times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1h 30m ", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(minutes=90)),
        ("2H", timedelta(hours=2)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "2h-", "-2h", "2h30", "two hours"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_moments_are_iso_times_or_durations_ago() -> None:
    assert parse_moment("2h", now=NOW) == NOW - timedelta(hours=2)
    assert parse_moment("2026-11-01T08:00:00Z", now=NOW) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert parse_moment("2026-11-01T10:00:00+02:00", now=NOW) == datetime(
        2026, 11, 1, 8, tzinfo=UTC
    )
    assert parse_moment("2026-11-01T08:00", now=NOW) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert parse_moment("2026-11-01", now=NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither an ISO time"):
        parse_moment("yesterday", now=NOW)


# filters


def test_filters_from_options() -> None:
    wanted = uuid4()
    filters = build_filters(
        groups=["g"], kinds=["invalid"], since="2h", until="1h", ids=[str(wanted)], now=NOW
    )
    assert filters == Filters(
        groups=frozenset({"g"}),
        kinds=frozenset({"invalid"}),
        since=NOW - timedelta(hours=2),
        until=NOW - timedelta(hours=1),
        ids=frozenset({wanted}),
    )
    assert filters.narrows
    assert not build_filters(now=NOW).narrows
    with pytest.raises(ValueError, match="not a dead-letter event id"):
        build_filters(ids=["nope"], now=NOW)
    with pytest.raises(ValueError, match="--since must be before --until"):
        build_filters(since="1h", until="2h", now=NOW)
    with pytest.raises(ValueError, match="neither"):
        build_filters(since="soon", now=NOW)


def test_every_criterion_must_hold() -> None:
    one = letter(group="a", topic="t1", kind="invalid", at=NOW)
    assert Filters().matches(one)
    assert Filters(groups=frozenset({"a", "b"})).matches(one)
    assert not Filters(groups=frozenset({"b"})).matches(one)
    assert Filters(topics=frozenset({"t1"})).matches(one)
    assert not Filters(topics=frozenset({"t2"})).matches(one)
    assert Filters(kinds=frozenset({"invalid"})).matches(one)
    assert not Filters(kinds=frozenset({"undecodable"})).matches(one)
    assert Filters(ids=frozenset({one.event_id})).matches(one)
    assert not Filters(ids=frozenset({uuid4()})).matches(one)
    # since inclusive, until exclusive
    assert Filters(since=NOW).matches(one)
    assert not Filters(since=NOW + timedelta(seconds=1)).matches(one)
    assert Filters(until=NOW + timedelta(seconds=1)).matches(one)
    assert not Filters(until=NOW).matches(one)
    assert not Filters(groups=frozenset({"a"}), kinds=frozenset({"undecodable"})).matches(one)


def test_selection_keeps_the_most_recent_oldest_first_once_each() -> None:
    old = letter(at=NOW - timedelta(hours=3), offset=1)
    middle = letter(at=NOW - timedelta(hours=2), offset=2)
    recent = letter(at=NOW - timedelta(hours=1), offset=3)
    assert select([recent, old, middle, recent]) == [old, middle, recent]
    assert select([recent, old, middle], 2) == [middle, recent]
    assert select([recent, old, middle], 0) == [old, middle, recent]


# reading letters back


def test_a_letter_reads_back_with_where_it_sits() -> None:
    read = parse_letter(wire(offset=7), partition=2, offset=99)
    assert read.consumer_group == "notifier.anomalies"
    assert (read.source_topic, read.source_partition, read.source_offset) == (
        "relais.anomalies.v1",
        1,
        7,
    )
    assert (read.partition, read.offset) == (2, 99)
    assert read.key() == b"acme/shp-1"
    assert read.value() == ORIGINAL
    assert read.reason.kind == "handler_failed"
    assert read.short_reason() == "ValueError: boom"
    assert read.replay_of is None


def test_reading_is_tolerant_of_new_kinds_and_fields() -> None:
    read = parse_letter(
        wire(kind="dependency_missing", brand_new_field={"x": 1}), partition=0, offset=0
    )
    assert read.reason.kind == "dependency_missing"


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"not json",
        b"{}",
        json.dumps({"event_type": "OrderPlaced"}).encode(),
    ],
)
def test_what_is_not_a_letter_is_refused(value: bytes | None) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_letter(value, partition=0, offset=0)


def test_a_letter_with_broken_base64_is_refused() -> None:
    data = json.loads(wire())
    data["original_value_b64"] = "%%%"
    with pytest.raises(ValueError, match="base64"):
        parse_letter(json.dumps(data).encode(), partition=0, offset=0)


def test_short_reason_is_one_line_and_bounded() -> None:
    data = json.loads(wire())
    data["reason"]["message"] = "first line " + "x" * 100 + "\nsecond line"
    read = parse_letter(json.dumps(data).encode(), partition=0, offset=0)
    assert read.short_reason(30) == "first line " + "x" * 18 + "…"
    assert len(read.short_reason(30)) == 30


# showing


def test_bytes_are_json_then_text_then_base64() -> None:
    assert describe_bytes(b'{"a": [1, 2]}') == ("json", {"a": [1, 2]})
    assert describe_bytes("{not json é".encode()) == ("text", "{not json é")
    raw = b"\xff\x00\x01"
    assert describe_bytes(raw) == ("base64", base64.b64encode(raw).decode())
    assert describe_key(None) == ("none", None)
    assert describe_key(b"acme/shp-1") == ("text", "acme/shp-1")
    assert describe_key(b"\xff") == ("base64", "/w==")


def test_summary_has_no_original_bytes_details_have_them_decoded() -> None:
    read = letter(headers={"event_type": "OrderPlaced", REPLAY_OF_HEADER: "abc"})
    short = summary(read)
    assert "value" not in short
    assert "original_value_b64" not in json.dumps(short)
    assert short["replay_of"] == "abc"
    assert short["reason"] == {
        "kind": "handler_failed",
        "message": "ValueError: boom",
        "attempts": 1,
    }
    full = details(read)
    assert full["value_format"] == "json"
    assert full["value"] == json.loads(ORIGINAL)
    assert full["key"] == "acme/shp-1"
    assert full["headers"] == {"event_type": "OrderPlaced", REPLAY_OF_HEADER: "abc"}
    json.dumps(full)  # serialisable as it is


# replaying


def test_a_replay_is_the_original_with_the_two_headers() -> None:
    read = letter(headers={"content-type": "application/json", "event_type": "OrderPlaced"})
    replay = build_replay(read)
    assert replay.topic == "relais.anomalies.v1"
    assert replay.key == b"acme/shp-1"
    assert replay.value == ORIGINAL
    assert replay.consumer_group == "notifier.anomalies"
    assert replay.letter_id == read.event_id
    assert replay.headers == (
        ("content-type", b"application/json"),
        ("event_type", b"OrderPlaced"),
        (REPLAY_FOR_HEADER, b"notifier.anomalies"),
        (REPLAY_OF_HEADER, str(read.event_id).encode()),
    )


def test_replaying_a_replay_replaces_its_replay_headers() -> None:
    earlier = str(uuid4())
    read = letter(
        key=None,
        headers={REPLAY_FOR_HEADER: "someone.else", REPLAY_OF_HEADER: earlier, "x": "1"},
    )
    assert read.replay_of == earlier
    replay = build_replay(read)
    assert replay.key is None
    assert replay.headers == (
        ("x", b"1"),
        (REPLAY_FOR_HEADER, b"notifier.anomalies"),
        (REPLAY_OF_HEADER, str(read.event_id).encode()),
    )
    assert UUID(replay.headers[-1][1].decode()) == read.event_id


def test_shipment_state_is_the_compacted_topic() -> None:
    assert compacted_topics() == frozenset({shipment_state.TOPIC.name})


def test_on_a_compacted_topic_only_the_latest_record_of_a_key_is_replayed() -> None:
    read = letter(topic=shipment_state.TOPIC.name, offset=7)
    assert source_key(read) == (shipment_state.TOPIC.name, 1, b"acme/shp-1")
    assert replay_hazard(read, compacted=True, later_offset=None) is None
    hazard = replay_hazard(read, compacted=True, later_offset=9)
    assert hazard is not None
    assert "superseded" in hazard
    assert "offset 9" in hazard
    keyless = letter(topic=shipment_state.TOPIC.name, key=None)
    assert source_key(keyless) is None
    assert replay_hazard(keyless, compacted=True, later_offset=None) == (
        f"no key, on the compacted topic {shipment_state.TOPIC.name}"
    )
    # elsewhere, order and supersession are the consumers' business (versions, claims)
    assert replay_hazard(read, compacted=False, later_offset=9) is None
