"""One alias table for carrier names: the webhook route, `relais normalize`, the generic
format's `carrier` and order parcels all name carriers through it; an update in the
generic format naming its real carrier matches that carrier's parcels."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from relais_contracts.topics.carrier_updates import (
    CarrierUpdateReceived,
    PayloadEncoding,
    UpdateSource,
)
from relais_tracker.adapters.carriers import ADAPTERS, PayloadError, adapter_for, parse
from relais_tracker.adapters.carriers.aliases import ALIASES, GENERIC, carrier_code, known_carrier
from relais_tracker.domain.shipments import compatible_carriers, parcel_carrier
from relais_tracker.handlers import normalize

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("mondial-relay", "mondial_relay"),
        ("mondialrelay", "mondial_relay"),
        ("Mondial Relay", "mondial_relay"),
        ("mondial_relay", "mondial_relay"),
        ("colissimo", "colissimo"),
        ("la-poste-colissimo", "colissimo"),
        ("laposte", "colissimo"),
        ("La Poste", "colissimo"),
        ("dhl", "dhl"),
        ("dhl-express", "dhl"),
        ("DHL Express", "dhl"),
        ("dhl-germany", "dhl"),
        ("ups", "ups"),
        ("UPS", "ups"),
        ("fedex", "fedex"),
        ("dpd", "dpd"),
        ("dpd-fr", "dpd"),
        ("exapaq", "dpd"),
        ("gls", "gls"),
        ("chronopost", "chronopost"),
        ("chronopost-france", "chronopost"),
        ("17TRACK", "seventeen_track"),
        ("AfterShip", "aftership"),
    ],
)
def test_every_documented_name_is_one_relais_code(name: str, code: str) -> None:
    assert known_carrier(name) == code
    assert carrier_code(name) == code


def test_an_unknown_carrier_keeps_its_folded_name_and_a_non_name_is_refused() -> None:
    assert known_carrier("swiss-post") is None
    assert carrier_code("Swiss Post") == "swiss_post"
    assert carrier_code("Colis Privé") == "colis_prive"
    assert carrier_code("7") is None
    assert carrier_code("---") is None


def test_every_alias_means_one_carrier_and_every_adapter_is_named() -> None:
    aliases = [alias for names in ALIASES.values() for alias in names]
    assert len(aliases) == len(set(aliases))
    assert set(ADAPTERS) <= set(ALIASES)


def test_adapters_are_found_by_any_alias() -> None:
    payload = (FIXTURES / "mondial_relay" / "collected_at_point_relais.json").read_bytes()

    assert adapter_for("mondial-relay") is ADAPTERS["mondial_relay"]
    assert parse("Mondial Relay", payload) == parse("mondial_relay", payload)
    assert adapter_for("swiss-post") is None
    with pytest.raises(PayloadError, match="unknown carrier"):
        parse("swiss-post", payload)


def _generic(carrier: str | None) -> bytes:
    body: dict[str, object] = {
        "tracking_number": "6A12345678901",
        "events": [{"occurred_at": "2026-03-02T10:00:00+01:00", "substatus": "ready_for_pickup"}],
    }
    if carrier is not None:
        body["carrier"] = carrier
    return json.dumps(body).encode()


def _update(carrier: str, payload: bytes) -> CarrierUpdateReceived:
    now = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    return CarrierUpdateReceived(
        event_id=uuid4(),
        occurred_at=now,
        produced_at=now,
        merchant_id="shop-a",
        correlation_id="generic:6A12345678901",
        carrier=carrier,
        source=UpdateSource.WEBHOOK,
        received_at=now,
        content_type="application/json",
        encoding=PayloadEncoding.TEXT,
        payload=payload.decode(),
        tracking_number="6A12345678901",
        endpoint="/webhooks/carriers/generic",
    )


def test_a_generic_update_naming_its_carrier_is_that_carriers_event() -> None:
    """The cause of issue 14's "held forever": the generic format's `carrier` was ignored,
    its events were carrier `generic`, and never matched a `colissimo` parcel."""
    events = normalize(_update("generic", _generic("la-poste-colissimo")))

    assert [event.carrier for event in events] == ["colissimo"]
    assert compatible_carriers(events[0].carrier, parcel_carrier("colissimo") or "")


def test_a_generic_update_without_a_carrier_stays_generic_and_matches_any_parcel() -> None:
    for named in (None, "generic"):
        events = normalize(_update("generic", _generic(named)))
        assert [event.carrier for event in events] == [GENERIC]
    assert compatible_carriers(GENERIC, "colissimo")
    assert compatible_carriers("colissimo", GENERIC)
    assert not compatible_carriers("colissimo", "dhl")


def test_a_generic_update_naming_something_that_is_no_carrier_is_refused() -> None:
    with pytest.raises(PayloadError, match="not a carrier name"):
        parse("generic", _generic("!!!"))


def test_an_update_published_under_an_alias_is_read_by_the_adapter() -> None:
    payload = (FIXTURES / "mondial_relay" / "collected_at_point_relais.json").read_bytes()

    events = normalize(_update("mondialrelay", payload))

    assert events
    assert {event.carrier for event in events} == {"mondial_relay"}


def test_order_parcels_name_carriers_by_their_relais_code() -> None:
    assert parcel_carrier("laposte") == "colissimo"
    assert parcel_carrier("dhl_express") == "dhl"
    assert parcel_carrier("colis_prive") == "colis_prive"
    assert parcel_carrier(None) is None


def test_relais_normalize_accepts_any_alias() -> None:
    payload = FIXTURES / "mondial_relay" / "collected_at_point_relais.json"

    aliased = subprocess.run(
        [sys.executable, "-m", "relais_cli.main", "normalize", "mondial-relay", str(payload)],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert aliased.returncode == 0, aliased.stderr
    expected = payload.with_name(payload.stem + ".expected.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in aliased.stdout.decode().splitlines()] == [
        json.loads(line) for line in expected
    ]
