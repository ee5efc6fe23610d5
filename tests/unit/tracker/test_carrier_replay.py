"""Replay every committed carrier payload and compare the WHOLE normalized output with its
committed expectation (tests/fixtures/carriers/<carrier>/<name>.expected.jsonl).

The test never writes expectations. After a deliberate mapping change, regenerate them
with `relais normalize` and review the diff:

    for f in tests/fixtures/carriers/<carrier>/*.json; do
        uv run relais normalize <carrier> "$f" > "${f%.json}.expected.jsonl"
    done
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relais_tracker.adapters.carriers import ADAPTERS, parse, to_record

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"
PAYLOADS = sorted(FIXTURES.glob("*/*.json"))


def _expected(payload: Path) -> list[dict[str, object]]:
    lines = payload.with_name(payload.stem + ".expected.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_replay_matches_the_committed_expectation(payload: Path) -> None:
    actual = [to_record(event) for event in parse(payload.parent.name, payload.read_bytes())]

    assert actual == _expected(payload)


@pytest.mark.parametrize("carrier", sorted(ADAPTERS))
def test_every_carrier_has_at_least_three_replayed_payloads(carrier: str) -> None:
    payloads = [path for path in PAYLOADS if path.parent.name == carrier]

    assert len(payloads) >= 3
    assert all(path.with_name(path.stem + ".expected.jsonl").exists() for path in payloads)


def test_every_fixture_directory_is_a_known_carrier() -> None:
    assert {path.parent.name for path in PAYLOADS} == set(ADAPTERS)


def test_replayed_events_are_oldest_first_with_offsets() -> None:
    for payload in PAYLOADS:
        events = parse(payload.parent.name, payload.read_bytes())
        assert events, payload
        assert all(event.occurred_at.utcoffset() is not None for event in events)
        assert [event.occurred_at for event in events] == sorted(e.occurred_at for e in events)


def test_the_fixtures_cover_the_situations_the_detector_needs() -> None:
    records = [record for payload in PAYLOADS for record in _expected(payload)]
    substatuses = {record["substatus"] for record in records}

    assert {
        "delivered_to_neighbour",
        "delivered_to_safe_place",
        "picked_up_at_pickup_point",
        "ready_for_pickup",
        "held_at_depot",
        "recipient_absent",
        "incorrect_address",
        "refused_by_recipient",
        "returning_to_sender",
        "returned_to_sender",
        "damaged",
        "delivered_damaged",
        "held_at_customs",
        "held_for_payment",
        "pickup_hold_expired",
    } <= substatuses
    assert any(record["code_recognized"] is False for record in records)
    assert any(record["estimated_delivery"] is not None for record in records)
