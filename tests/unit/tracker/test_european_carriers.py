"""Royal Mail, PostNL, InPost, Evri, bpost and Correos (issue 14, "six more carriers").

The JSON replays of tests/fixtures/carriers/<carrier>/ run in test_carrier_replay.py;
here: bpost's XML answers (whole output, or the whole one-line refusal for errors,
DTDs and entities), each format told apart from the payload, the signals the issue
lists (out for delivery, pickup point, failed attempt with its reason, return,
neighbour/safe place, damage, customs), estimates, errors, hostile shapes and names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from relais_cli.fuzz.webhook_cases import WRONG_SHAPES
from relais_contracts.common import CARRIER_DISPLAY_NAMES, KNOWN_CARRIERS
from relais_tracker.adapters.carriers import ADAPTERS, PayloadError, adapter_for, parse, to_record
from relais_tracker.adapters.carriers.aliases import known_carrier

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"
CARRIERS = ("royal_mail", "postnl", "inpost", "evri", "bpost", "correos")
XML_PAYLOADS = sorted((FIXTURES / "bpost").glob("*.xml"))


def _records(carrier: str, payload: bytes) -> list[dict[str, Any]]:
    return [to_record(event) for event in parse(carrier, payload)]


def _fixture(carrier: str, name: str) -> list[dict[str, Any]]:
    return _records(carrier, (FIXTURES / carrier / name).read_bytes())


def _substatuses(records: list[dict[str, Any]]) -> list[str]:
    return [record["substatus"] for record in records]


@pytest.mark.parametrize("payload", XML_PAYLOADS, ids=lambda path: path.stem)
def test_bpost_xml_replays_match_their_committed_expectation(payload: Path) -> None:
    expected_events = payload.with_name(payload.stem + ".expected.jsonl")
    expected_error = payload.with_name(payload.stem + ".expected-error.txt")
    assert expected_events.exists() != expected_error.exists()

    if expected_error.exists():
        with pytest.raises(PayloadError) as raised:
            parse("bpost", payload.read_bytes())
        assert str(raised.value) == expected_error.read_text().strip()
    else:
        lines = expected_events.read_text().splitlines()
        assert _records("bpost", payload.read_bytes()) == [json.loads(line) for line in lines]


def test_bpost_refuses_entities_without_expanding_or_reading_them() -> None:
    for name in ("billion_laughs.xml", "external_entity.xml"):
        with pytest.raises(PayloadError, match="DOCTYPE is refused"):
            parse("bpost", (FIXTURES / "bpost" / name).read_bytes())


def test_bpost_reads_the_same_answer_as_xml_and_as_json() -> None:
    xml = (FIXTURES / "bpost" / "delivered_regular.xml").read_bytes()
    as_json = json.dumps(
        {
            "itemTracking": {
                "itemCode": "323212345659900040669030",
                "stateInfo": [
                    {
                        "time": "2026-11-23T23:19:29+01:00",
                        "location": "MAIL BRUSSEL X",
                        "stateCode": "T00",
                        "stateDescription": "Sorted - sorted_out",
                    },
                    {
                        "time": "2026-11-24T07:11:18.923+01:00",
                        "location": "ANTWERPEN MAIL",
                        "stateCode": "L00",
                        "stateDescription": "BoundToRound - out_for_distribution",
                    },
                    {
                        "time": "2026-11-24T10:31:07.427+01:00",
                        "location": "ANTWERPEN MAIL",
                        "stateCode": "U01",
                        "stateDescription": "DistributedNormally - regular",
                    },
                ],
            }
        }
    ).encode()

    assert _records("bpost", as_json) == _records("bpost", xml)


def test_royal_mail_events_and_summary_answers() -> None:
    events = _fixture("royal_mail", "absent_redelivery_collected.json")
    summary = _fixture("royal_mail", "address_problems_summary.json")

    assert _substatuses(events) == [
        "arrived_at_facility",
        "out_for_delivery_unspecified",
        "recipient_absent",
        "held_at_depot",
        "delivery_rescheduled",
        "delivery_rescheduled",
        "picked_up_at_pickup_point",
    ]
    assert {record["tracking_number"] for record in events} == {"FQ087430672GB"}
    assert [(r["tracking_number"], r["substatus"]) for r in summary] == [
        ("RA323456789GB", "exception_unspecified"),
        ("RA223456781GB", "access_restricted"),
        ("RA123456789GB", "returning_to_sender"),
    ]
    unknown = summary[0]
    assert (unknown["carrier_code"], unknown["carrier_reason_code"]) == ("EVXYZ", "EXCEPTION")


def test_royal_mail_errors_are_refused_with_the_carrier_reason() -> None:
    error = {
        "httpCode": "400",
        "httpMessage": "Bad Request",
        "errors": [{"errorCode": "E0004", "errorDescription": "Failed header validation"}],
    }
    with pytest.raises(PayloadError, match="E0004: Failed header validation"):
        parse("royal_mail", json.dumps(error).encode())
    only_errors = {"mailPieces": [{"mailPieceId": "X1", "error": {"errorCode": "E1142"}}]}
    with pytest.raises(PayloadError, match="E1142"):
        parse("royal_mail", json.dumps(only_errors).encode())


def test_postnl_formats_and_the_status_fallback() -> None:
    complete = _fixture("postnl", "complete_refused_and_unlisted_code.json")
    current = _fixture("postnl", "current_status_customs.json")
    updated = _fixture("postnl", "updated_shipments.json")

    delivered = next(record for record in complete if record["carrier_code"] == "01B")
    assert (delivered["substatus"], delivered["carrier_reason_code"]) == (
        "delivered_unspecified",
        "11",
    )
    unlisted = next(record for record in complete if record["carrier_code"] == "QQ9")
    assert unlisted["code_recognized"] is False
    assert _substatuses(current) == ["customs_clearance_started"]
    assert "99" not in {record["carrier_code"] for record in updated}
    assert len(updated) == 4


def test_postnl_estimate_is_the_expected_window_of_a_parcel_not_yet_delivered() -> None:
    records = _fixture("postnl", "complete_out_for_delivery_eta.json")
    delivered = _fixture("postnl", "complete_refused_and_unlisted_code.json")

    assert records[-1]["estimated_delivery"] == {
        "day": "2026-07-08",
        "window_start": "2026-07-08T14:50:00+02:00",
        "window_end": "2026-07-08T16:50:00+02:00",
    }
    assert all(record["estimated_delivery"] is None for record in delivered)


def test_postnl_unknown_barcode_and_errors_are_refused() -> None:
    warning = {"CurrentStatus": {"Warnings": [{"Code": "W001", "Description": "Unknown"}]}}
    with pytest.raises(PayloadError, match="no Shipment"):
        parse("postnl", json.dumps(warning).encode())
    with pytest.raises(PayloadError, match="Invalid ApiKey"):
        parse("postnl", b'{"fault": {"faultstring": "Invalid ApiKey"}}')
    with pytest.raises(PayloadError, match="Barcode not found"):
        parse("postnl", b'{"Errors": [{"ErrorMsg": "Barcode not found"}]}')


def test_inpost_locker_tracking_and_webhooks() -> None:
    locker = _fixture("inpost", "locker_collected_after_reminder.json")
    expired = _fixture("inpost", "locker_expired_returned.json")
    webhook = _fixture("inpost", "webhook_ready_to_pickup.json")

    assert _substatuses(locker)[-3:] == [
        "ready_for_pickup",
        "ready_for_pickup",
        "picked_up_at_pickup_point",
    ]
    assert locker[-1]["location"] == {
        "city": "Kraków",
        "postal_code": "31-019",
        "country": "PL",
        "facility": "KRA010",
    }
    assert "pickup_hold_expired" in _substatuses(expired)
    assert _substatuses(expired)[-1] == "returned_to_sender"
    assert [(r["substatus"], r["occurred_at"]) for r in webhook] == [
        ("ready_for_pickup", "2026-05-27T06:31:40+02:00")
    ]


def test_inpost_refuses_errors_and_events_without_a_status() -> None:
    error = {"status": 404, "error": "resource_not_found", "message": "Not found", "details": {}}
    with pytest.raises(PayloadError, match="Not found"):
        parse("inpost", json.dumps(error).encode())
    other = {"event": "shipment_deleted", "event_ts": "2026-01-01 10:00:00 +0100", "payload": {}}
    with pytest.raises(PayloadError, match="carries no parcel status"):
        parse("inpost", json.dumps(other).encode())


def test_evri_points_narrow_the_rail() -> None:
    records = _fixture("evri", "not_in_then_parcelshop.json")

    assert _substatuses(records)[3:] == [
        "failed_attempt_unspecified",
        "recipient_absent",
        "ready_for_pickup",
        "picked_up_at_pickup_point",
    ]
    assert records[4]["carrier_reason_code"] == "COURIER_REATTEMPT_CUSTOMER_NOT_AVAILABLE"


def test_evri_estimate_is_the_eta_of_the_newest_scan() -> None:
    payload = json.loads((FIXTURES / "evri" / "courier_neighbour.json").read_bytes())
    payload["results"][0]["trackingEvents"].pop(0)

    records = _records("evri", json.dumps(payload).encode())

    assert records[-1]["substatus"] == "out_for_delivery_unspecified"
    assert records[-1]["estimated_delivery"] == {
        "day": "2026-03-11",
        "window_start": "2026-03-11T13:00:00Z",
        "window_end": "2026-03-11T15:00:00Z",
    }


def test_evri_and_correos_refuse_answers_without_parcels() -> None:
    with pytest.raises(PayloadError, match="no parcel"):
        parse("evri", b'{"results": [], "failures": [{"uniqueId": "x"}]}')
    with pytest.raises(PayloadError, match="empty body"):
        parse("correos", b"  ")
    unknown = {"shipment": [{"shipmentCode": "X", "error": {"errorCode": "1", "errorDesc": "No"}}]}
    with pytest.raises(PayloadError, match="1: No"):
        parse("correos", json.dumps(unknown).encode())


def test_correos_phases_are_narrowed_by_the_event_text() -> None:
    records = _fixture("correos", "delivered_after_absent.json")

    assert _substatuses(records) == [
        "label_created",
        "accepted_by_carrier",
        "arrived_at_facility",
        "arrived_at_facility",
        "out_for_delivery_unspecified",
        "recipient_absent",
        "delivered_unspecified",
    ]
    assert records[0]["occurred_at"] == "2026-03-02T10:12:44+01:00"


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize(
    "shape", [value for _, value in WRONG_SHAPES], ids=[name for name, _ in WRONG_SHAPES]
)
def test_the_fuzzers_wrong_shapes_are_payload_errors(carrier: str, shape: object) -> None:
    with pytest.raises(PayloadError) as raised:
        parse(carrier, json.dumps(shape).encode())
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("royal-mail", "royal_mail"),
        ("Royal Mail", "royal_mail"),
        ("postnl-3s", "postnl"),
        ("PostNL", "postnl"),
        ("inpost-paczkomaty", "inpost"),
        ("InPost", "inpost"),
        ("hermes-uk", "evri"),
        ("Evri", "evri"),
        ("bpost", "bpost"),
        ("bpost-international", "bpost"),
        ("Correos", "correos"),
        ("colis-prive", "colis_prive"),
        ("Colis Privé", "colis_prive"),
    ],
)
def test_aggregator_slugs_and_names_are_the_relais_code(name: str, code: str) -> None:
    assert known_carrier(name) == code


def test_every_new_carrier_is_known_named_and_zoned() -> None:
    zones = {adapter.carrier: adapter.default_zone.key for adapter in ADAPTERS.values()}

    assert set(CARRIERS) <= set(KNOWN_CARRIERS) & set(ADAPTERS) & set(CARRIER_DISPLAY_NAMES)
    assert {carrier: zones[carrier] for carrier in CARRIERS} == {
        "royal_mail": "Europe/London",
        "postnl": "Europe/Amsterdam",
        "inpost": "Europe/Warsaw",
        "evri": "Europe/London",
        "bpost": "Europe/Brussels",
        "correos": "Europe/Madrid",
    }
    assert adapter_for("colis-prive") is None
    assert CARRIER_DISPLAY_NAMES["colis_prive"] == "Colis Privé"


def test_relais_normalize_reads_bpost_xml_under_any_alias() -> None:
    payload = FIXTURES / "bpost" / "absent_then_pickup_point.xml"

    result = subprocess.run(
        [sys.executable, "-m", "relais_cli.main", "normalize", "Belgian Post", str(payload)],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.decode().splitlines() if line]
    assert [line["substatus"] for line in lines][-2:] == [
        "ready_for_pickup",
        "picked_up_at_pickup_point",
    ]
