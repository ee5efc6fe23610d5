"""The demo's carrier simulator, read back by the tracker's real adapters: every native
event of every carrier's table means exactly the scan it stands for (substatus, incident,
instant and offset, estimate), and a whole day of traffic parses, native or generic."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from relais_cli.demo.carriers import (
    FORMATS,
    GENERIC,
    Place,
    Scan,
    generic_payload,
    native_payload,
    speaks,
)
from relais_cli.demo.story import (
    CARRIERS,
    INCIDENTS,
    Merchant,
    day_of_traffic,
    scenario_scans,
)
from relais_tracker.adapters.carriers import NormalizedEvent, parse

TRACKING_NUMBER = "RDTEST00042"
PLACES = (
    Place("Lyon", "69003", "FR"),
    Place("Leeds", "LS1 4DY", "GB"),
    Place("Dublin", "D02 X285", "IE"),
)
MOMENTS = (
    datetime(2026, 11, 23, 17, 41, tzinfo=UTC),  # winter time
    datetime(2026, 7, 2, 6, 5, tzinfo=UTC),  # summer time, the day before in no zone here
)
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
MERCHANTS = [
    Merchant(
        merchant_id="maison-lumiere", locale="fr-FR", time_zone="Europe/Paris", currency="EUR"
    ),
    Merchant(
        merchant_id="velocity-sports", locale="en-GB", time_zone="Europe/London", currency="GBP"
    ),
]
TABLE_ENTRIES = [(carrier, kind) for carrier, fmt in FORMATS.items() for kind in fmt.table]


def _read(carrier: str, payload: dict[str, object]) -> NormalizedEvent:
    events = parse(carrier, json.dumps(payload).encode())
    assert len(events) == 1
    return events[0]


def _assert_means(event: NormalizedEvent, scan: Scan) -> None:
    assert event.tracking_number == TRACKING_NUMBER
    assert event.substatus.value == scan.kind
    assert event.code_recognized is True
    if scan.incident is not None:
        assert event.incident is not None
        assert event.incident.reason.value == scan.incident
    assert event.occurred_at == scan.at
    if scan.estimated_day is not None:
        assert event.estimated_delivery is not None
        assert event.estimated_delivery.day == scan.estimated_day


@pytest.mark.parametrize(("carrier", "kind"), TABLE_ENTRIES, ids=lambda value: str(value))
def test_every_native_event_reads_back_as_exactly_its_scan(carrier: str, kind: str) -> None:
    fmt = FORMATS[carrier]
    for place in PLACES:
        for at in MOMENTS:
            scan = Scan(at=at, kind=kind, place=place, incident=INCIDENTS.get(kind))
            assert speaks(carrier, [scan])
            event = _read(
                carrier, native_payload(carrier, tracking_number=TRACKING_NUMBER, scan=scan)
            )

            _assert_means(event, scan)
            assert event.occurred_at.utcoffset() == at.astimezone(fmt.zone(place)).utcoffset()


@pytest.mark.parametrize("carrier", sorted(c for c, fmt in FORMATS.items() if fmt.carries_estimate))
def test_a_format_that_carries_estimates_carries_the_scenario_estimate(carrier: str) -> None:
    late = scenario_scans(
        "late", shipped=START, city=PLACES[1], promised_by=datetime(2026, 11, 25, tzinfo=UTC)
    )
    assert speaks(carrier, late)
    [delayed] = [scan for scan in late if scan.estimated_day is not None]
    assert delayed.estimated_day == date(2026, 11, 27)
    assert late[-1].kind == "delivered_unspecified"

    event = _read(carrier, native_payload(carrier, tracking_number=TRACKING_NUMBER, scan=delayed))

    _assert_means(event, delayed)


def test_a_format_without_estimates_does_not_speak_a_scan_that_has_one() -> None:
    scan = Scan(
        at=MOMENTS[0],
        kind="delayed_processing",
        place=PLACES[0],
        incident="carrier_transport_delay",
        estimated_day=date(2026, 11, 27),
    )
    assert speaks("fedex", [scan])
    assert not any(speaks(c, [scan]) for c, fmt in FORMATS.items() if not fmt.carries_estimate)


def test_every_carrier_of_the_story_tells_the_normal_scenario_in_its_own_format() -> None:
    assert set(CARRIERS) == set(FORMATS)
    for place in PLACES:
        scans = scenario_scans("normal", shipped=START, city=place, promised_by=START)
        for carrier in CARRIERS:
            assert speaks(carrier, scans), (carrier, place)


def test_a_zoneless_time_in_the_repeated_hour_falls_back_to_the_generic_format() -> None:
    repeated = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 in Paris, the second time
    scan = Scan(at=repeated, kind="in_transit_unspecified", place=PLACES[0])
    assert not speaks("dhl", [scan])
    assert speaks("fedex", [scan])  # written with its offset: no ambiguity
    assert speaks("dhl", [Scan(at=repeated.replace(hour=0), kind=scan.kind, place=PLACES[0])])


def test_generic_payload_reads_back_as_its_scan() -> None:
    scan = Scan(
        at=MOMENTS[0],
        kind="held_at_customs",
        place=PLACES[2],
        incident="customs_delay",
        estimated_day=date(2026, 11, 30),
    )
    event = _read(
        GENERIC, generic_payload(carrier="dhl", tracking_number=TRACKING_NUMBER, scan=scan)
    )

    _assert_means(event, scan)


def test_a_whole_day_is_deterministic_and_every_call_means_its_scan() -> None:
    day = day_of_traffic(merchants=MERCHANTS, orders=400, start=START, run_id="dabc", seed=11)
    assert day == day_of_traffic(
        merchants=MERCHANTS, orders=400, start=START, run_id="dabc", seed=11
    )
    assert day != day_of_traffic(
        merchants=MERCHANTS, orders=400, start=START, run_id="dabc", seed=12
    )
    sent_as = {
        order.body["parcels"][0]["tracking_number"]: order.body["parcels"][0]["carrier"]
        for order in day.orders
    }
    for call in day.scans:
        assert call.carrier == sent_as[call.tracking_number]
        events = parse(call.carrier, json.dumps(call.payload).encode())
        assert [event.tracking_number for event in events] == [call.tracking_number]
        event = events[0]
        assert event.substatus.value == call.kind
        assert event.code_recognized is True
        assert event.occurred_at == call.at
        if call.kind in INCIDENTS:
            assert event.incident is not None
            assert event.incident.reason.value == INCIDENTS[call.kind]
    assert set(day.formats) == {*CARRIERS, GENERIC}
    assert sum(day.formats.values()) == 400
    assert day.formats[GENERIC] < 400 * 0.25
