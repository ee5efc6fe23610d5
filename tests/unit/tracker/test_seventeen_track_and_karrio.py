"""Aggregators as sources: 17TRACK's push and Karrio's tracker webhook name the real
carrier, map their documented status tables, and are authenticated as each documents
(17TRACK: `sign` = SHA-256 of body + "/" + key; Karrio: `X-Event-Id` = the secret)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from relais_contracts.tracking import IncidentReason, Substatus, TrackingStatus, status_of
from relais_runtime.merchants.tracking import SignatureEncoding, WebhookScheme
from relais_tracker.adapters.carriers import PayloadError, parse
from relais_tracker.adapters.carriers import karrio as karrio_module
from relais_tracker.adapters.carriers import seventeen_track as seventeen_module
from relais_tracker.adapters.webhook_auth import WebhookCredential, seventeen_track_sign

PROBLEMS = {TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT}


def _entries(*tables: dict[Any, Any]) -> list[tuple[Any, Any]]:
    return [(key, mapping) for table in tables for key, mapping in table.items()]


@pytest.mark.parametrize(
    ("code", "mapping"),
    _entries(
        seventeen_module.SUB_STATUSES,
        seventeen_module.MAIN_STATUSES,
        seventeen_module.STAGES,
        karrio_module.STATUSES,
    ),
)
def test_every_table_entry_is_a_valid_pair_with_an_incident_on_problems(
    code: str, mapping: Any
) -> None:
    status, substatus, reason = mapping
    assert status_of(substatus) is status, code
    if status in PROBLEMS:
        assert isinstance(reason, IncidentReason), code


def test_seventeen_track_knows_all_thirty_documented_sub_statuses() -> None:
    assert len(seventeen_module.SUB_STATUSES) == 30
    mains = {code.split("_")[0] for code in seventeen_module.SUB_STATUSES}
    assert mains == set(seventeen_module.MAIN_STATUSES)


def test_karrio_reasons_are_relais_reasons_and_reason_substatuses_belong_to_a_status() -> None:
    assert set(karrio_module.REASONS.values()) <= set(IncidentReason)
    for (status, reason), substatus in karrio_module.REASON_SUBSTATUSES.items():
        assert status in karrio_module.STATUSES
        assert reason in karrio_module.REASONS
        assert isinstance(substatus, Substatus)


def _push(
    *events: dict[str, Any],
    carrier: int = 6051,
    latest: str = "InTransit_Other",
    providers: list[dict[str, Any]] | None = None,
) -> bytes:
    provider = {
        "provider": {"key": carrier, "name": "La Poste (Colissimo)"},
        "events": list(events),
    }
    body = {
        "event": "TRACKING_UPDATED",
        "data": {
            "number": "CB123456785FR",
            "carrier": carrier,
            "track_info": {
                "latest_status": {"status": latest.split("_")[0], "sub_status": latest},
                "tracking": {"providers": providers if providers is not None else [provider]},
            },
        },
    }
    return json.dumps(body).encode()


def _scan(time_iso: str, **fields: Any) -> dict[str, Any]:
    return {"time_iso": time_iso, "description": "x", "address": {"country": "FR"}, **fields}


def test_seventeen_track_names_the_real_carrier_by_its_key_then_by_provider_name() -> None:
    scan = _scan("2026-03-02T10:00:00+01:00", sub_status="InTransit_PickedUp")
    [known] = parse("17track", _push(scan))
    [by_name] = parse(
        "17track",
        _push(
            scan,
            carrier=999999,
            providers=[{"provider": {"key": 999999, "name": "Mondial Relay"}, "events": [scan]}],
        ),
    )
    [nobody] = parse("17track", _push(scan, carrier=999999, providers=[{"events": [scan]}]))

    assert known.carrier == "colissimo"
    assert by_name.carrier == "mondial_relay"
    assert nobody.carrier == "generic"


def test_seventeen_track_v22_events_use_their_stage_and_the_newest_the_latest_status() -> None:
    events = parse(
        "17track",
        _push(
            _scan("2026-03-03T13:00:00+01:00"),
            _scan("2026-03-02T18:00:00+01:00"),
            _scan("2026-03-02T10:00:00+01:00", stage="PickedUp"),
            latest="DeliveryFailure_InvalidAddress",
        ),
    )

    assert [e.carrier_code for e in events] == [
        "PickedUp",
        "NoStage",
        "DeliveryFailure_InvalidAddress",
    ]
    assert [e.substatus for e in events] == [
        Substatus.ACCEPTED_BY_CARRIER,
        Substatus.IN_TRANSIT_UNSPECIFIED,
        Substatus.INCORRECT_ADDRESS,
    ]
    assert events[-1].incident is not None
    assert events[-1].incident.reason is IncidentReason.RECIPIENT_INCORRECT_ADDRESS


def test_seventeen_track_reads_a_new_sub_status_by_its_main_status_and_flags_the_unknown() -> None:
    new, unknown = parse(
        "17track",
        _push(
            _scan("2026-03-02T10:00:00+01:00", sub_status="Exception_SomethingNew"),
            _scan("2026-03-03T10:00:00+01:00", sub_status="Teleported"),
        ),
    )

    assert new.substatus is Substatus.EXCEPTION_UNSPECIFIED
    assert new.code_recognized
    assert unknown.substatus is Substatus.IN_TRANSIT_UNSPECIFIED
    assert not unknown.code_recognized


def test_seventeen_track_times_offset_first_then_utc_then_the_country_zone() -> None:
    with_offset, utc, local = parse(
        "17track",
        _push(
            _scan("2026-03-02T10:00:00+05:00", sub_status="InTransit_Other"),
            {
                "time_iso": "2026-03-02T12:00:00",
                "time_utc": "2026-03-02T11:30:00Z",
                "sub_status": "InTransit_Other",
                "address": {"country": "FR"},
            },
            _scan("2026-03-02T13:00:00", sub_status="InTransit_Other"),
        ),
    )

    assert with_offset.occurred_at.isoformat() == "2026-03-02T10:00:00+05:00"
    assert utc.occurred_at.isoformat() == "2026-03-02T12:30:00+01:00", "time_utc in FR's zone"
    assert local.occurred_at.isoformat() == "2026-03-02T13:00:00+01:00"


def test_seventeen_track_stopped_pushes_carry_nothing_and_other_events_are_refused() -> None:
    stopped = {"event": "TRACKING_STOPPED", "data": {"number": "CB123456785FR", "carrier": 6051}}
    assert parse("17track", json.dumps(stopped).encode()) == []
    with pytest.raises(PayloadError, match="not a 17TRACK push event"):
        parse("17track", json.dumps({**stopped, "event": "SOMETHING"}).encode())
    with pytest.raises(PayloadError, match=r"data\.number"):
        parse("17track", b'{"event": "TRACKING_UPDATED", "data": {}}')
    with pytest.raises(PayloadError, match="time_utc"):
        parse("17track", _push({"description": "no time", "sub_status": "InTransit_Other"}))


def test_seventeen_track_sign_is_sha256_of_body_slash_key_compared_in_constant_time() -> None:
    body = _push(_scan("2026-03-02T10:00:00+01:00", sub_status="InTransit_PickedUp"))
    key = b"17track-security-key"
    credential = WebhookCredential(
        merchant_id="shop-a",
        scheme=WebhookScheme.SEVENTEEN_TRACK_SIGN,
        header="sign",
        secret=key,
        encoding=SignatureEncoding.HEX,
        prefix="",
    )
    good = hashlib.sha256(body + b"/" + key).hexdigest()

    def verifies(headers: dict[str, str], payload: bytes = body) -> bool:
        return credential.verifies(headers=headers, body=payload, now=None, tolerance_s=300)

    assert seventeen_track_sign(body, key) == good
    assert verifies({"sign": good})
    assert verifies({"sign": good.upper()}), "hex in either case"
    assert not verifies({"sign": good}, body + b" ")
    assert not verifies({"sign": hashlib.sha256(body + b"/other").hexdigest()})
    assert not verifies({"sign": hashlib.sha256(body).hexdigest()})
    assert not verifies({})


def _karrio(event: str = "tracker_updated", **data: Any) -> bytes:
    tracker = {
        "tracking_number": "1ZA82D672031716786",
        "carrier_name": "ups",
        "status": "in_transit",
        "events": [
            {
                "date": "2026-02-10",
                "time": "07:13 AM",
                "status": "in_transit",
                "code": "AR",
                "description": "Arrived",
                "location": "Wayne, NJ, 07470, US",
            }
        ],
        **data,
    }
    return json.dumps({"event": event, "data": tracker}).encode()


def test_karrio_reads_tracker_events_only_and_names_the_real_carrier() -> None:
    [event] = parse("karrio", _karrio(carrier_name="dhl_parcel_de"))
    assert event.carrier == "dhl"
    [event] = parse("karrio", _karrio("tracker.updated", carrier_name="laposte"))
    assert event.carrier == "colissimo"
    assert parse("karrio", _karrio("shipment_purchased")) == []
    with pytest.raises(PayloadError, match="carrier_name"):
        parse("karrio", _karrio(carrier_name="!!"))
    with pytest.raises(PayloadError, match="event"):
        parse("karrio", b'{"data": {}}')


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        ("14:25 PM", "14:25:00"),  # Karrio's own %H:%M %p
        ("02:25 PM", "14:25:00"),
        ("12:05 AM", "00:05:00"),
        ("12:05 PM", "12:05:00"),
        ("09:30", "09:30:00"),
        ("09:30:15", "09:30:15"),
        (None, "00:00:00"),
    ],
)
def test_karrio_local_times_read_in_the_carrier_zone(clock: str | None, expected: str) -> None:
    raw = {"date": "2026-02-10", "time": clock, "status": "in_transit", "location": "Lyon"}
    [event] = parse("karrio", _karrio(carrier_name="colissimo", events=[raw]))

    assert event.occurred_at.isoformat() == f"2026-02-10T{expected}+01:00"


def test_karrio_timestamp_z_is_local_wall_clock_time() -> None:
    raw = {
        "date": "2026-07-10",
        "timestamp": "2026-07-10T14:25:00.000Z",
        "status": "in_transit",
        "location": "Berlin, 10115, DE",
    }
    [event] = parse("karrio", _karrio(carrier_name="ups", events=[raw]))

    assert event.occurred_at.isoformat() == "2026-07-10T14:25:00+02:00", "zone of DE, not UTC"


def test_karrio_bad_times_are_payload_errors() -> None:
    for raw in (
        {"date": "10/02/2026", "status": "in_transit"},
        {"date": "2026-02-10", "time": "25:61", "status": "in_transit"},
        {"date": "2026-02-10", "timestamp": "yesterday", "status": "in_transit"},
    ):
        with pytest.raises(PayloadError):
            parse("karrio", _karrio(events=[raw]))


@pytest.mark.parametrize(
    ("status", "reason", "description", "substatus", "incident"),
    [
        (
            "delivery_failed",
            "consignee_business_closed",
            "",
            Substatus.BUSINESS_CLOSED,
            IncidentReason.RECIPIENT_BUSINESS_CLOSED,
        ),
        (
            "delivery_failed",
            None,
            "Business closed",
            Substatus.BUSINESS_CLOSED,
            IncidentReason.RECIPIENT_BUSINESS_CLOSED,
        ),
        (
            "delivery_failed",
            None,
            "Attempted",
            Substatus.FAILED_ATTEMPT_UNSPECIFIED,
            IncidentReason.UNKNOWN,
        ),
        (
            "on_hold",
            "customs_duties_unpaid",
            "",
            Substatus.HELD_FOR_PAYMENT,
            IncidentReason.CUSTOMS_DUTIES_UNPAID,
        ),
        (
            "on_hold",
            "consignee_refused",
            "",
            Substatus.HELD_BY_CARRIER,
            IncidentReason.RECIPIENT_REFUSED,
        ),
        ("delivered", None, "Left with neighbour", Substatus.DELIVERED_TO_NEIGHBOUR, None),
        ("delivered", "carrier_damaged_parcel", "Delivered", Substatus.DELIVERED_UNSPECIFIED, None),
        ("ready_for_pickup", None, "", Substatus.READY_FOR_PICKUP, None),
        ("return_to_sender", None, "", Substatus.RETURNING_TO_SENDER, IncidentReason.UNKNOWN),
    ],
)
def test_karrio_status_narrowed_by_reason_or_wording(
    status: str,
    reason: str | None,
    description: str,
    substatus: Substatus,
    incident: IncidentReason | None,
) -> None:
    raw = {
        "date": "2026-02-10",
        "time": "10:00",
        "status": status,
        "reason": reason,
        "description": description,
    }
    [event] = parse("karrio", _karrio(events=[raw]))

    assert event.substatus is substatus
    assert (event.incident.reason if event.incident else None) is incident
    assert event.carrier_reason_code == reason


def test_karrio_newest_event_without_status_takes_the_trackers_and_unknown_is_flagged() -> None:
    events = [
        {"date": "2026-02-11", "time": "10:00", "code": "XX", "description": "?"},
        {"date": "2026-02-10", "time": "10:00", "status": "unknown", "code": "ZZ"},
        {"date": "2026-02-09", "time": "10:00", "code": "YY"},
    ]
    older, unknown, newest = parse("karrio", _karrio(status="delivered", events=events))

    assert newest.carrier_code == "delivered/XX"
    assert newest.substatus is Substatus.DELIVERED_UNSPECIFIED
    assert not unknown.code_recognized
    assert unknown.carrier_code == "unknown/ZZ"
    assert not older.code_recognized, "only the newest event takes the tracker's status"


def test_karrio_authenticates_with_the_secret_in_x_event_id() -> None:
    credential = WebhookCredential(
        merchant_id="shop-a",
        scheme=WebhookScheme.SHARED_SECRET,
        header="X-Event-Id",
        secret=b"whsec-karrio",
        encoding=SignatureEncoding.HEX,
        prefix="",
    )
    body = _karrio()

    assert credential.verifies(
        headers={"x-event-id": "whsec-karrio"}, body=body, now=None, tolerance_s=300
    )
    assert not credential.verifies(
        headers={"x-event-id": "whsec-other"}, body=body, now=None, tolerance_s=300
    )
