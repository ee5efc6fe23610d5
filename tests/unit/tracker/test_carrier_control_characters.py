"""A carrier's line breaks (and other control characters) in its own texts never make an
update undecodable: the adapters put each run of them on one line as a space, so the
normalized events are the same as without them, and they make valid contract events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relais_contracts.text import first_control_character
from relais_contracts.topics.carrier_updates import UpdateSource
from relais_tracker.adapters.carriers import NormalizedEvent, parse, to_record
from relais_tracker.domain.shipments import carrier_event_from, tracking_event_recorded

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"
PAYLOADS = sorted(FIXTURES.glob("*/*.json"))
CONTROLS = "\r\n\t\x00\x1b"


def _texts(events: list[NormalizedEvent]) -> set[str]:
    """The carrier's own words the events carry (descriptions, places), with a space."""
    found = {event.description for event in events}
    for event in events:
        if event.location is not None:
            found |= {event.location.city or "", event.location.facility or ""}
    return {text for text in found if " " in text}


def _spoil(value: Any, texts: set[str]) -> Any:
    """`value` with the first space of the given texts written as a run of control
    characters."""
    if isinstance(value, str):
        return value.replace(" ", CONTROLS, 1) if value.strip() in texts else value
    if isinstance(value, dict):
        return {key: _spoil(item, texts) for key, item in value.items()}
    if isinstance(value, list):
        return [_spoil(item, texts) for item in value]
    return value


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_control_characters_in_carrier_texts_become_spaces(payload: Path) -> None:
    carrier = payload.parent.name
    clean = parse(carrier, payload.read_bytes())
    texts = _texts(clean)
    if not texts:
        pytest.skip("no carrier text with a space in this payload")
    document = json.loads(payload.read_bytes())
    spoiled = json.dumps(_spoil(document, texts)).encode()
    if spoiled == json.dumps(document).encode():
        pytest.skip("the events' texts are the adapter's (a code-only push), not the payload's")
    assert CONTROLS in spoiled.decode("unicode_escape")

    events = parse(carrier, spoiled)

    assert [to_record(event) for event in events] == [to_record(event) for event in clean]


def test_generic_format_texts_with_control_characters_make_valid_events() -> None:
    body = {
        "tracking_number": "RL900000001",
        "events": [
            {
                "occurred_at": "2026-03-02T10:15:00+01:00",
                "substatus": "delivered_to_neighbour",
                "carrier_code": "DLV\tNB",
                "description": "Livré au voisin\r\nM. Dupont\x00",
                "location": {"city": "Lyon\n3e", "facility": "\x1b[31mHub\x1b[0m", "country": "FR"},
            }
        ],
    }
    (event,) = parse("generic", json.dumps(body).encode())

    assert event.description == "Livré au voisin M. Dupont"
    assert event.carrier_code == "DLV NB"
    assert event.location is not None
    assert (event.location.city, event.location.facility) == ("Lyon 3e", "[31mHub [0m")
    recorded = tracking_event_recorded(
        carrier_event_from(
            event, carrier="generic", source=UpdateSource.WEBHOOK, carrier_update_id=None
        ),
        merchant_id="shop-a",
        shipment_id="P-1",
        order_id="O-1",
        produced_at=datetime.now(UTC),
    )
    assert first_control_character(recorded.model_dump_json()) is None


def test_a_code_of_control_characters_only_is_kept_as_unreadable() -> None:
    body = {
        "tracking_number": "RL900000001",
        "events": [{"occurred_at": "2026-03-02T10:15:00+01:00", "carrier_code": "\x00\r\n"}],
    }
    (event,) = parse("generic", json.dumps(body).encode())

    assert (event.carrier_code, event.code_recognized) == ("?", False)


def test_a_location_named_again_is_the_same_immutable_location() -> None:
    """Carriers repeat the same hubs: a location of plain texts is built once and shared
    (Location is frozen, so sharing it cannot leak a change); one given as an object
    or a list is still read, never cached."""
    from relais_tracker.adapters.carriers._common import make_location

    first = make_location(city=" Lyon\x07", postal_code=69003, country="fr")
    again = make_location(city=" Lyon\x07", postal_code=69003, country="fr")
    assert first is again
    assert first is not None
    assert (first.city, first.postal_code, first.country) == (
        "Lyon",
        "69003",
        "FR",
    )
    assert make_location(city={"name": "Lyon"}, country="FR") == make_location(country="FR")
    assert make_location(city=["Lyon"]) is None
