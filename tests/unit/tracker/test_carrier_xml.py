"""The XML/SOAP generations of the carrier APIs (Chronopost TrackingServiceWS, DPD
ParcelLifeCycleService, Mondial Relay WSI2_TracingColisDetaille).

Replays every committed XML payload (tests/fixtures/carriers/<carrier>/<name>.xml) and
compares the WHOLE normalized output with <name>.expected.jsonl, or the whole one-line
reason with <name>.expected-error.txt for an answer that must be refused (SOAP Faults,
carrier error codes, DTDs and entities). Hostile XML is refused without expansion and
without reading anything outside the payload.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from relais_contracts.tracking import TrackingStatus, status_of
from relais_tracker.adapters.carriers import PayloadError, dpd_soap, parse, to_record
from relais_tracker.adapters.carriers._common import fold
from relais_tracker.adapters.carriers._xml import looks_like_xml, parse_xml, to_data

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"
XML_CARRIERS = ("chronopost", "dpd", "mondial_relay")
PAYLOADS = sorted(path for carrier in XML_CARRIERS for path in (FIXTURES / carrier).glob("*.xml"))


def _expected_events(payload: Path) -> Path:
    return payload.with_name(payload.stem + ".expected.jsonl")


def _expected_error(payload: Path) -> Path:
    return payload.with_name(payload.stem + ".expected-error.txt")


def _records(carrier: str, payload: bytes) -> list[dict[str, Any]]:
    return [to_record(event) for event in parse(carrier, payload)]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_replay_matches_the_committed_expectation(payload: Path) -> None:
    carrier = payload.parent.name
    assert _expected_events(payload).exists() != _expected_error(payload).exists(), payload

    if _expected_error(payload).exists():
        with pytest.raises(PayloadError) as raised:
            parse(carrier, payload.read_bytes())
        assert str(raised.value) == _expected_error(payload).read_text().strip()
    else:
        lines = _expected_events(payload).read_text().splitlines()
        expected = [json.loads(line) for line in lines if line.strip()]
        actual = _records(carrier, payload.read_bytes())
        assert actual == expected
        assert actual, payload
        times = [event.occurred_at for event in parse(carrier, payload.read_bytes())]
        assert all(time.utcoffset() is not None for time in times)
        assert times == sorted(times)


@pytest.mark.parametrize("carrier", XML_CARRIERS)
def test_each_xml_format_has_several_answers_a_fault_and_a_doctype(carrier: str) -> None:
    payloads = [path for path in PAYLOADS if path.parent.name == carrier]
    answers = [path for path in payloads if _expected_events(path).exists()]
    errors = [_expected_error(path).read_text() for path in payloads if path not in answers]

    assert len(answers) >= 3
    assert any("SOAP Fault" in error for error in errors)
    assert any("DOCTYPE is refused" in error for error in errors)


@pytest.mark.parametrize(
    ("alias", "payload"),
    [
        ("Chronopost", "chronopost/soap_v2_relay_collected.xml"),
        ("dpd-de", "dpd/soap_de_delivered_neighbour.xml"),
        ("mondial-relay", "mondial_relay/soap12_not_collected_returned_be.xml"),
    ],
)
def test_relais_normalize_reads_the_soap_answers(alias: str, payload: str) -> None:
    path = FIXTURES / payload
    result = subprocess.run(
        [sys.executable, "-m", "relais_cli.main", "normalize", alias, str(path)],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert printed == [json.loads(line) for line in _expected_events(path).read_text().splitlines()]


def test_relais_normalize_refuses_a_soap_fault_with_its_fault_string() -> None:
    path = FIXTURES / "dpd" / "soap_fault_authentication.xml"
    result = subprocess.run(
        [sys.executable, "-m", "relais_cli.main", "normalize", "dpd", str(path)],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert b"DELICOM_ERR_AUTHENTICATION" in result.stderr
    assert result.stdout == b""


# --- hostile XML ----------------------------------------------------------------------

_BODY = b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>"


def _hostile(secret: Path) -> dict[str, bytes]:
    uri = secret.as_uri().encode()
    return {
        "billion laughs": (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(
                b'<!ENTITY a%d "%s">'
                % (level, (b"&a%d;" % (level - 1) if level > 1 else b"&a;") * 10)
                for level in range(1, 10)
            )
            + b"]><r>&a9;</r>"
        ),
        "external entity": (
            b'<!DOCTYPE r [<!ENTITY secret SYSTEM "' + uri + b'">]>' + _BODY + b"&secret;"
        ),
        "parameter entity": (
            b'<!DOCTYPE r [<!ENTITY % remote SYSTEM "' + uri + b'"> %remote;]><r/>'
        ),
        "external DTD": b'<!DOCTYPE r SYSTEM "' + uri + b'"><r/>',
        "deep nesting": _BODY + b"<trackSkybillV2Response>" + b"<a>" * 5000 + b"</a>" * 5000,
        "not well-formed": _BODY + b"<trackingresult><statusInfo></trackingresult>",
        "another operation": _BODY + b"<getAuthResponse><return/></getAuthResponse>"
        b"</soap:Body></soap:Envelope>",
        "truncated": b"<",
    }


@pytest.mark.parametrize("carrier", XML_CARRIERS)
@pytest.mark.parametrize(
    "name",
    [
        "billion laughs",
        "external entity",
        "parameter entity",
        "external DTD",
        "deep nesting",
        "not well-formed",
        "another operation",
        "truncated",
    ],
)
def test_hostile_xml_is_refused_without_expansion_nor_reading_files(
    carrier: str, name: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")

    with pytest.raises(PayloadError) as raised:
        parse(carrier, _hostile(secret)[name])

    message = str(raised.value)
    assert "\n" not in message
    assert "TOP-SECRET" not in message


def test_a_doctype_is_refused_before_any_entity_is_declared() -> None:
    with pytest.raises(PayloadError, match="DOCTYPE is refused"):
        parse_xml(b"<!DOCTYPE r><r/>", carrier="dpd")


def test_json_is_never_taken_for_xml() -> None:
    assert looks_like_xml(b"\xef\xbb\xbf \n <soap:Envelope/>")
    assert not looks_like_xml(b' {"a": "<b>"}')
    assert not looks_like_xml(b"")


def test_lookups_ignore_namespaces_and_keep_repeated_elements_as_lists() -> None:
    root = parse_xml(
        b'<x:r xmlns:x="urn:a" xmlns="urn:b"><item><v>1</v></item><item><v>2</v></item>'
        b'<one>t</one><nil xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'
        b"<empty/></x:r>",
        carrier="test",
    )

    assert to_data(root, lists=frozenset({"one_list", "empty"})) == {
        "item": [{"v": "1"}, {"v": "2"}],
        "one": "t",
        "nil": None,
        "empty": [{}],
    }


# --- one mapping for both encodings ---------------------------------------------------

_CHRONOPOST_EVENT = {
    "code": "TA",
    "eventDate": "2026-04-02T07:58:00+02:00",
    "eventLabel": "Envoi en cours de livraison",
    "officeLabel": "NANTES CHRONOPOST",
    "zipCode": "44300",
}
_MONDIAL_RELAY_LINE = {
    "Libelle": "Colis disponible au Point Relais",
    "Date": "03/07/26",
    "Heure": "11:05",
    "Emplacement": "PRESSING DES LILAS",
    "Relais_Num": "054321",
    "Relais_Pays": "FR",
}


def _elements(values: dict[str, str]) -> str:
    return "".join(f"<{key}>{value}</{key}>" for key, value in values.items())


def test_chronopost_xml_and_json_forms_map_alike() -> None:
    xml = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<ns2:trackSkybillV2Response xmlns:ns2="http://cxf.tracking.soap.chronopost.fr/">'
        "<return><errorCode>0</errorCode><listEventInfoComp>"
        f"<events>{_elements(_CHRONOPOST_EVENT)}</events>"
        "<skybillNumber>XY123456789FR</skybillNumber>"
        "</listEventInfoComp></return></ns2:trackSkybillV2Response></soap:Body></soap:Envelope>"
    )
    document = {
        "trackSkybillV2Response": {
            "return": {
                "errorCode": 0,
                "listEventInfoComp": {
                    "skybillNumber": "XY123456789FR",
                    "events": [_CHRONOPOST_EVENT],
                },
            }
        }
    }

    assert _records("chronopost", xml.encode()) == _records(
        "chronopost", json.dumps(document).encode()
    )


def test_mondial_relay_xml_and_json_forms_map_alike() -> None:
    xml = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<WSI2_TracingColisDetailleResponse xmlns="http://www.mondialrelay.fr/webservice/">'
        "<WSI2_TracingColisDetailleResult><Expedition>31299887</Expedition><STAT>81</STAT>"
        "<Tracing><ret_WSI2_sub_TracingColisDetaille>"
        f"{_elements(_MONDIAL_RELAY_LINE)}"
        "</ret_WSI2_sub_TracingColisDetaille></Tracing>"
        "</WSI2_TracingColisDetailleResult></WSI2_TracingColisDetailleResponse>"
        "</soap:Body></soap:Envelope>"
    )
    document = {"Expedition": "31299887", "STAT": "81", "Tracing": [_MONDIAL_RELAY_LINE]}

    assert _records("mondial_relay", xml.encode()) == _records(
        "mondial_relay", json.dumps(document).encode()
    )


def test_a_dpd_status_not_reached_or_without_date_is_no_event() -> None:
    xml = (
        "<getTrackingDataResponse><trackingresult>"
        "<parcelLabelNumber>01905023456789</parcelLabelNumber>"
        "<statusInfo><status>ACCEPTED</status><statusHasBeenReached>true</statusHasBeenReached>"
        "<date><content>02.11.2026, 16:47</content></date></statusInfo>"
        "<statusInfo><status>ON_THE_ROAD</status><statusHasBeenReached>true</statusHasBeenReached>"
        "</statusInfo>"
        "<statusInfo><status>DELIVERED</status><statusHasBeenReached>false</statusHasBeenReached>"
        "<date><content>03.11.2026, 12:18</content></date></statusInfo>"
        "</trackingresult></getTrackingDataResponse>"
    )

    assert [event.carrier_code for event in parse("dpd", xml.encode())] == ["ACCEPTED"]


def test_a_dpd_date_in_no_known_format_is_a_payload_error() -> None:
    xml = (
        "<getTrackingDataResponse><trackingresult><parcelLabelNumber>1</parcelLabelNumber>"
        "<statusInfo><status>Courier</status><date><content>yesterday</content></date>"
        "</statusInfo></trackingresult></getTrackingDataResponse>"
    )

    with pytest.raises(PayloadError, match="'yesterday' is in no known DPD format"):
        parse("dpd", xml.encode())


# --- the DPD SOAP status table --------------------------------------------------------


def test_dpd_soap_statuses_map_to_valid_pairs_with_incidents_on_problems() -> None:
    refined = [mapping for pairs in dpd_soap.TEXT_REFINEMENTS.values() for _, mapping in pairs]
    for status, substatus, reason in [*dpd_soap.STATUSES.values(), *refined]:
        assert status_of(substatus) is status
        if status in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT):
            assert reason is not None


def test_dpd_soap_refinements_narrow_known_statuses_with_matchable_keywords() -> None:
    assert set(dpd_soap.TEXT_REFINEMENTS) <= set(dpd_soap.STATUSES)
    keywords = [keyword for pairs in dpd_soap.TEXT_REFINEMENTS.values() for keyword, _ in pairs]
    assert all(keyword == fold(keyword) for keyword in keywords)
    assert "# Source:" in inspect.getsource(dpd_soap)
