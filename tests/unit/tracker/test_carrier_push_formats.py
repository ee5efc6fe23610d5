"""The pushed and newer formats of the existing carriers (UPS Track Alert, FedEx webhook,
DHL push, GLS Track And Trace V1 and ShipIT, DPD Tracking Push) beside the replayed
fixtures: what a fixture cannot show (a query-string push, a subscription message),
their one-line errors, and the three signals issue 14 found missed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relais_contracts.tracking import Substatus
from relais_tracker.adapters.carriers import PayloadError, parse, to_record

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"


def _bytes(document: object) -> bytes:
    return json.dumps(document).encode()


def _records(carrier: str, payload: bytes) -> list[dict[str, Any]]:
    return [to_record(event) for event in parse(carrier, payload)]


# --- the three misses of issue 14, each on its wording alone ------------------------


def test_dhl_out_with_courier_under_transit_is_out_for_delivery() -> None:
    payload = {
        "shipments": [
            {
                "id": "1234567890",
                "events": [
                    {
                        "timestamp": "2026-06-11T08:21:00+02:00",
                        "statusCode": "transit",
                        "status": "transit",
                        "description": "Shipment is out with courier for delivery",
                    }
                ],
            }
        ]
    }

    (event,) = parse("dhl", _bytes(payload))

    assert event.substatus is Substatus.OUT_FOR_DELIVERY_UNSPECIFIED


def _ups_activity(status: dict[str, str]) -> bytes:
    activity = {"date": "20260312", "time": "064210", "status": status}
    package = {"trackingNumber": "1Z5R89390357567127", "activity": [activity]}
    return _bytes({"trackResponse": {"shipment": [{"package": [package]}]}})


@pytest.mark.parametrize(
    "status",
    [
        {"type": "I", "description": "Loaded on Delivery Vehicle"},
        {"type": "I", "code": "OD", "description": "Loaded on Delivery Vehicle"},
        {"type": "I", "description": "On the Way", "statusCode": "072"},
        {"type": "D", "description": "Loaded on Delivery Vehicle"},
    ],
    ids=["description", "movement-scan-code", "status-description-code", "delivery-type"],
)
def test_ups_loaded_on_delivery_vehicle_is_out_for_delivery(status: dict[str, str]) -> None:
    (event,) = parse("ups", _ups_activity(status))

    assert event.substatus is Substatus.OUT_FOR_DELIVERY_UNSPECIFIED


@pytest.mark.parametrize(
    ("event_type", "description"),
    [("HP", "Ready for recipient pickup"), ("AR", "At FedEx location, ready for pickup")],
)
def test_fedex_ready_for_recipient_pickup_is_ready_for_pickup(
    event_type: str, description: str
) -> None:
    scan = {"date": "2026-09-16T10:12:00-04:00", "eventType": event_type}
    scan["eventDescription"] = description
    result = {"trackingNumberInfo": {"trackingNumber": "771234567890"}, "scanEvents": [scan]}
    payload = {"output": {"completeTrackResults": [{"trackResults": [result]}]}}

    (event,) = parse("fedex", _bytes(payload))

    assert event.substatus is Substatus.READY_FOR_PICKUP


# --- DPD Tracking Push: the parameters as DPD sends them ------------------------------

QUERY = (
    b"pushid=335165&pnr=01476810375209&depot=0134&status=delivery_carload"
    b"&statusdate=09032026095100&services=101_DE_97350_NC_EXPA&weight=2.30&ref=ORDER-4711"
)


@pytest.mark.parametrize(
    "payload",
    [QUERY, b"?" + QUERY, b"https://shop.example/hooks/dpd?" + QUERY + b"\n"],
    ids=["form-body", "query", "url"],
)
def test_a_dpd_push_as_parameters_reads_as_its_json_relay(payload: bytes) -> None:
    relayed = (FIXTURES / "dpd" / "push_out_for_delivery.json").read_bytes()

    assert _records("dpd", payload) == _records("dpd", relayed)


def test_an_undocumented_dpd_push_status_is_an_unknown_code() -> None:
    (event,) = parse("dpd", b"pnr=01476810375209&status=new_status&statusdate=09032026095100")

    assert (event.carrier_code, event.code_recognized) == ("new_status", False)


# --- DHL push: subscription life-cycle messages carry no event ------------------------


@pytest.mark.parametrize(
    "scope", ["subscription.validate", "subscription.activate", "subscription.ready"]
)
def test_a_dhl_subscription_message_has_no_event(scope: str) -> None:
    message = {
        "scope": scope,
        "self": "https://api-eu.dhl.com/tracking/push/v1/subscription/7d1c2b9e",
        "secret": "c2VjcmV0",
    }

    assert parse("dhl", _bytes(message)) == []


# --- UPS Track Alert times ------------------------------------------------------------


def _alert(**fields: str) -> bytes:
    body: dict[str, Any] = {
        "trackingNumber": "1Z204W4R0308071865",
        "activityStatus": {"type": "I", "code": "OR", "description": "Origin Scan"},
    }
    body.update(fields)
    return _bytes(body)


def test_a_ups_alert_keeps_the_offset_between_its_local_and_gmt_times() -> None:
    payload = _alert(
        localActivityDate="20260105",
        localActivityTime="091519",
        gmtActivityDate="20260105",
        gmtActivityTime="141519",
    )

    (event,) = parse("ups", payload)

    assert event.occurred_at.isoformat() == "2026-01-05T09:15:19-05:00"


def test_a_ups_alert_with_only_gmt_times_is_read_in_utc() -> None:
    (event,) = parse("ups", _alert(gmtActivityDate="20260105", gmtActivityTime="141519"))

    assert event.occurred_at.isoformat() == "2026-01-05T14:15:19+00:00"


def test_an_unknown_ups_alert_type_is_an_unknown_code() -> None:
    payload = json.loads(_alert(gmtActivityDate="20260105", gmtActivityTime="141519"))
    payload["activityStatus"] = {"type": "Q", "code": "Q1", "description": "New thing"}

    (event,) = parse("ups", _bytes(payload))

    assert (event.carrier_code, event.code_recognized) == ("Q", False)


# --- FedEx webhook ------------------------------------------------------------------


def test_a_fedex_webhook_result_without_number_info_takes_the_complete_result_number() -> None:
    scan = {"date": "2026-10-02T07:58:00-05:00", "eventType": "OD"}
    payload = {
        "outputMetaData": [{"attempt": "1"}],
        "output": {
            "completeTrackResults": [
                {"trackingNumber": "392857460129", "trackResults": [{"scanEvents": [scan]}]}
            ]
        },
    }

    (event,) = parse("fedex", _bytes(payload))

    assert event.tracking_number == "392857460129"


# --- one-line errors of the new formats ---------------------------------------------

ERRORS = {
    "ups-alert-bad-offset": (
        "ups",
        json.loads(_alert(localActivityDate="20260105", localActivityTime="091519", gmtOffset="x")),
        "gmtOffset: 'x' is not an offset like -04.00",
    ),
    "ups-alert-no-time": ("ups", json.loads(_alert()), "no localActivityDate/Time"),
    "ups-alert-bad-date": (
        "ups",
        json.loads(_alert(gmtActivityDate="2026-01-05", gmtActivityTime="141519")),
        "is not YYYYMMDD HHMMSS",
    ),
    "fedex-webhook-without-results": (
        "fedex",
        {"outputMetaData": [], "output": {}},
        "output.completeTrackResults: missing",
    ),
    "gls-track-trace-not-found": (
        "gls",
        {
            "parcels": [
                {
                    "requested": "42249018928",
                    "errorCode": "E_404_01",
                    "errorMessage": "Resource Not Found",
                }
            ]
        },
        "GLS answered with an error: E_404_01 Resource Not Found (42249018928)",
    ),
    "gls-track-trace-empty": ("gls", {"parcels": []}, "parcels: empty"),
    "gls-track-trace-problem": (
        "gls",
        {
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "detail": "Provided references of size '11' is more than allowed limit of 10",
        },
        "GLS answered with an error: Provided references of size '11'",
    ),
    "gls-gateway-fault": (
        "gls",
        {"fault": {"faultstring": "The Token has expired: policy(Verify-JWT)"}},
        "GLS answered with an error: The Token has expired",
    ),
    "gls-shipit-without-track-id": (
        "gls",
        {"UnitDetail": {"History": []}},
        "UnitDetail.TrackID: missing",
    ),
    "dpd-push-bad-date": (
        "dpd",
        {"pnr": "01476810375209", "status": "delivery_carload", "statusdate": "2026-03-09"},
        "statusdate: '2026-03-09' is not ddMMyyyyHHmmss",
    ),
    "dpd-push-without-date": (
        "dpd",
        {"pnr": "01476810375209", "status": "delivery_carload"},
        "push[0].statusdate: missing",
    ),
}


@pytest.mark.parametrize(("carrier", "document", "reason"), ERRORS.values(), ids=list(ERRORS))
def test_a_new_format_payload_it_cannot_read_is_a_one_line_payload_error(
    carrier: str, document: object, reason: str
) -> None:
    with pytest.raises(PayloadError) as raised:
        parse(carrier, _bytes(document))

    message = str(raised.value)
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "payload",
    [b"pnr=\xff\xfe&status=delivery_carload", b"pnr=0147&status=x&statusdate=1" * 2],
    ids=["not-utf8", "garbled"],
)
def test_a_hostile_dpd_push_query_is_a_payload_error(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        parse("dpd", payload)
