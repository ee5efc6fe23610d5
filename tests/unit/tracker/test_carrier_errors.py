"""Payloads an adapter cannot read raise PayloadError with a one-line reason naming what
is wrong; unknown codes are counted by carrier and logged with the code."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from relais_contracts.tracking import UNKNOWN_CODE_DEFAULT
from relais_tracker.adapters.carriers import ADAPTERS, PayloadError, parse, record_unknown_codes


def _bytes(document: object) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize("carrier", sorted(ADAPTERS))
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[1, 2]", ""),
        (b'"just text"', ""),
        (b"{}", ""),
    ],
    ids=["not-json", "not-utf8", "list", "string", "empty-object"],
)
def test_garbage_is_rejected_with_a_one_line_reason(
    carrier: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(PayloadError) as raised:
        parse(carrier, payload)

    message = str(raised.value)
    assert message
    assert "\n" not in message
    assert reason in message


CASES = {
    "colissimo-error": (
        "colissimo",
        {"returnCode": 400, "returnMessage": "Le numéro que vous avez saisi n'est pas valide."},
        "returnCode 400: Le numéro",
    ),
    "colissimo-no-events": (
        "colissimo",
        {"returnCode": 200, "shipment": {"idShip": "6A23456789012"}},
        "shipment.event: missing",
    ),
    "colissimo-bad-date": (
        "colissimo",
        {
            "returnCode": 200,
            "shipment": {
                "idShip": "6A23456789012",
                "event": [{"code": "DI1", "label": "x", "date": "05/03/2026"}],
            },
        },
        "event[0].date: '05/03/2026' is not an ISO 8601 date-time",
    ),
    "chronopost-error": (
        "chronopost",
        {"return": {"errorCode": 1, "errorMessage": "System Error"}},
        "errorCode 1: System Error",
    ),
    "chronopost-event-without-code": (
        "chronopost",
        {"skybillNumber": "XY1", "events": [{"eventDate": "2026-01-01T10:00:00+01:00"}]},
        "events[0].code: missing",
    ),
    "dhl-problem": (
        "dhl",
        {"title": "No result found", "status": 404, "detail": "No shipment found."},
        "DHL answered with an error: No shipment found.",
    ),
    "dhl-event-without-time": (
        "dhl",
        {"shipments": [{"id": "7777777770", "events": [{"statusCode": "transit"}]}]},
        "shipments[0].events[0].timestamp: missing",
    ),
    "ups-errors": (
        "ups",
        {"response": {"errors": [{"code": "TV1002", "message": "Invalid inquiry number"}]}},
        "TV1002: Invalid inquiry number",
    ),
    "ups-warning-only": (
        "ups",
        {
            "trackResponse": {
                "shipment": [{"warnings": [{"code": "TW0001", "message": "Not found"}]}]
            }
        },
        "UPS answered with a warning: TW0001",
    ),
    "ups-bad-time": (
        "ups",
        {
            "trackResponse": {
                "shipment": [
                    {
                        "package": [
                            {
                                "trackingNumber": "1Z1",
                                "activity": [
                                    {"date": "2026-03-01", "time": "1015", "status": {"type": "I"}}
                                ],
                            }
                        ]
                    }
                ]
            }
        },
        "does not match %Y%m%d %H%M%S",
    ),
    "fedex-errors": (
        "fedex",
        {"errors": [{"code": "TRACKING.TRACKINGNUMBER.NOTFOUND", "message": "not found"}]},
        "TRACKING.TRACKINGNUMBER.NOTFOUND",
    ),
    "fedex-result-error": (
        "fedex",
        {
            "output": {
                "completeTrackResults": [
                    {"trackResults": [{"error": {"code": "TRACKING.NOTFOUND", "message": "x"}}]}
                ]
            }
        },
        "FedEx answered with an error: TRACKING.NOTFOUND",
    ),
    "dpd-unknown-parcel": (
        "dpd",
        {"parcellifecycleResponse": {"parcelLifeCycleData": None}},
        "without parcelLifeCycleData",
    ),
    "gls-empty": ("gls", {"tuStatus": []}, "tuStatus: empty"),
    "gls-error": ("gls", {"lastError": "E206"}, "GLS answered with an error: E206"),
    "mondial-relay-error-stat": (
        "mondial_relay",
        {"STAT": "24", "Tracing": []},
        "STAT 24",
    ),
    "mondial-relay-without-number": (
        "mondial_relay",
        {"STAT": "81", "Tracing": []},
        "payload.Expedition: missing",
    ),
    "generic-mismatched-pair": (
        "generic",
        {
            "tracking_number": "AGG-1",
            "events": [
                {
                    "occurred_at": "2026-01-01T10:00:00Z",
                    "status": "in_transit",
                    "substatus": "delivered_to_neighbour",
                }
            ],
        },
        "belongs to status 'delivered'",
    ),
    "generic-naive-time": (
        "generic",
        {
            "tracking_number": "AGG-1",
            "events": [{"occurred_at": "2026-01-01T10:00:00", "status": "delivered"}],
        },
        "events.0.occurred_at",
    ),
    "generic-nothing-known": (
        "generic",
        {"tracking_number": "AGG-1", "events": [{"occurred_at": "2026-01-01T10:00:00Z"}]},
        "needs a substatus, a status or a carrier_code",
    ),
    "generic-unknown-term": (
        "generic",
        {
            "tracking_number": "AGG-1",
            "events": [{"occurred_at": "2026-01-01T10:00:00Z", "status": "lost_in_space"}],
        },
        "events.0.status",
    ),
}


@pytest.mark.parametrize(("carrier", "document", "reason"), CASES.values(), ids=CASES.keys())
def test_malformed_payload_names_what_is_wrong(carrier: str, document: object, reason: str) -> None:
    with pytest.raises(PayloadError) as raised:
        parse(carrier, _bytes(document))

    assert reason in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_unknown_carrier_name_lists_the_known_ones() -> None:
    with pytest.raises(PayloadError) as raised:
        parse("pigeon", b"{}")

    assert "unknown carrier 'pigeon'" in str(raised.value)
    assert all(carrier in str(raised.value) for carrier in ADAPTERS)


def test_a_zoneless_time_is_read_in_the_country_zone_then_the_carrier_default() -> None:
    document = {
        "trackResponse": {
            "shipment": [
                {
                    "package": [
                        {
                            "trackingNumber": "1Z1",
                            "activity": [
                                {
                                    "date": "20260701",
                                    "time": "101500",
                                    "status": {"type": "I"},
                                    "location": {"address": {"countryCode": "DE"}},
                                },
                                {"date": "20260701", "time": "091500", "status": {"type": "I"}},
                            ],
                        }
                    ]
                }
            ]
        }
    }

    berlin, new_york = parse("ups", _bytes(document))

    assert berlin.occurred_at.isoformat() == "2026-07-01T10:15:00+02:00"
    assert new_york.occurred_at.isoformat() == "2026-07-01T09:15:00-04:00"


def _unknown_count(carrier: str) -> float:
    value = REGISTRY.get_sample_value(
        "relais_tracker_unknown_carrier_codes_total", {"carrier": carrier}
    )
    return value or 0.0


def test_unknown_codes_get_the_safe_default_and_are_counted_and_logged() -> None:
    payload = _bytes(
        {
            "skybillNumber": "XY1",
            "events": [
                {"code": "D", "eventDate": "2026-01-02T10:00:00+01:00", "eventLabel": "Delivered"},
                {"code": "QQ9", "eventDate": "2026-01-01T10:00:00+01:00", "eventLabel": "?"},
            ],
        }
    )
    events = parse("chronopost", payload)
    unknown = events[0]
    before = _unknown_count("chronopost")

    with capture_logs() as logs:
        counted = record_unknown_codes(events, carrier="chronopost")

    assert (unknown.status, unknown.substatus) == UNKNOWN_CODE_DEFAULT
    assert unknown.code_recognized is False
    assert unknown.incident is None
    assert events[1].code_recognized is True
    assert counted == 1
    assert _unknown_count("chronopost") == before + 1
    assert [(log["log_level"], log["carrier_code"], log["carrier"]) for log in logs] == [
        ("warning", "QQ9", "chronopost")
    ]
