"""Evri (formerly Hermes UK): the enterprise tracking API
(GET https://api.hermesworld.co.uk/enterprise-tracking-api/v1/parcels?uniqueIds=...).

Shape: `{results: [P], failures: [{uniqueId}]}`, or one bare P, where P is `{uniqueId,
parcelIdentifiers: [{type: "BARCODE", value}], trackingEvents: [{dateTime,
trackingStage: {trackingStageCode, description}, trackingPoint: {trackingPointCode,
description}, eta?: {start, end}}]}`, events newest first, times in UTC (`...Z`).
The tracking stage (the "rail" the Evri tracking page draws: 1 we're expecting it ...
5_COURIER delivered) is the documented key; the tracking point (what happened, in
Evri's wording) narrows it: a courier's failed visit stays on the out-for-delivery
rail, a parcel left with a neighbour on the delivered one. The tracking number is the
16-character barcode, else `uniqueId`.
"""

from __future__ import annotations

from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import DeliveryEstimate, is_final, status_of
from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    Refinements,
    as_list,
    as_object,
    build_event,
    estimate,
    field,
    load_json,
    oldest_first,
    optional_text,
    parse_instant,
    resolve,
    sub_object,
    text,
    with_estimate_on_newest,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


# Source: Evri tracking stages (https://www.evri.com/tracking/tracking-stages.json, as
# listed in jampez77/Evri custom_components/evri/const.py: 0 it's booked, 1 we're
# expecting it, 2 we've got it, 3 on its way, 4 on its way back, 4_COURIER out for
# delivery, 5_COURIER delivered, 4_SHOP ready for collection, 5_SHOP collected, 6 / 6_INFO
# update on your parcel, 6_ACTION call to action, A returned); 4_LOCKER / 5_LOCKER are the
# locker rails of the same list.
STAGES: Final[dict[str, CodeMapping]] = {
    "0": _m(B.LABEL_CREATED),
    "1": _m(B.LABEL_CREATED),
    "2": _m(B.ACCEPTED_BY_CARRIER),
    "3": _m(B.IN_TRANSIT_UNSPECIFIED),
    "4": _m(B.RETURNING_TO_SENDER, R.UNKNOWN),
    "4_COURIER": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),
    "5_COURIER": _m(B.DELIVERED_UNSPECIFIED),
    "4_SHOP": _m(B.READY_FOR_PICKUP),
    "5_SHOP": _m(B.PICKED_UP_AT_PICKUP_POINT),
    "4_LOCKER": _m(B.READY_FOR_PICKUP),
    "5_LOCKER": _m(B.PICKED_UP_AT_PICKUP_POINT),
    "6": _m(B.IN_TRANSIT_UNSPECIFIED),
    "6_INFO": _m(B.IN_TRANSIT_UNSPECIFIED),
    "6_ACTION": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
    "A": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),
}

_ABSENT: Final = _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)
_FAILED: Final = _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN)
_WRONG_ADDRESS: Final = _m(B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)
_DAMAGED: Final = _m(B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)
_LATE: Final = _m(B.DELAYED, R.UNKNOWN)
_CUSTOMS: Final = _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY)
_PROBLEMS: Final = (
    ("damaged", _DAMAGED),
    ("address", _WRONG_ADDRESS),
    ("customs", _CUSTOMS),
    ("delay", _LATE),
)

# Evri's tracking point codes (folded: `not_delivered_...`, `courier_reattempt_...`, as
# read by public Evri clients, e.g. the NOT_DELIVERED_ prefix and
# COURIER_REATTEMPT_CUSTOMER_NOT_AVAILABLE) and the British English wording of
# `trackingPoint.description`; the first keyword found wins.
POINT_REFINEMENTS: Final[Refinements] = {
    "4_COURIER": (
        ("customer_not_available", _ABSENT),
        ("weren't in", _ABSENT),
        ("not in", _ABSENT),
        ("no access", _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)),
        ("refused", _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
        ("not_delivered", _FAILED),
        ("redeliver", _FAILED),
        ("couldn't deliver", _FAILED),
    ),
    "5_COURIER": (
        ("neighbour", _m(B.DELIVERED_TO_NEIGHBOUR)),
        ("safe place", _m(B.DELIVERED_TO_SAFE_PLACE)),
        ("safeplace", _m(B.DELIVERED_TO_SAFE_PLACE)),
        ("letterbox", _m(B.DELIVERED_TO_MAILBOX)),
        ("signed", _m(B.SIGNED_FOR)),
        ("handed to you", _m(B.DELIVERED_TO_RECIPIENT)),
    ),
    "3": _PROBLEMS,
    "6": _PROBLEMS,
    "6_INFO": _PROBLEMS,
    "6_ACTION": (
        ("address", _WRONG_ADDRESS),
        ("customs", _m(B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID)),
        ("payment", _m(B.HELD_FOR_PAYMENT, R.RECIPIENT_PAYMENT_DUE)),
    ),
    "4": (
        ("refused", _m(B.RETURNING_TO_SENDER, R.RECIPIENT_REFUSED)),
        ("address", _m(B.RETURNING_TO_SENDER, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("not collected", _m(B.RETURNING_TO_SENDER, R.RECIPIENT_PICKUP_MISSED)),
        ("damaged", _m(B.RETURNING_TO_SENDER, R.CARRIER_DAMAGED_PARCEL)),
    ),
}

_ZONE: Final = ZoneInfo("Europe/London")


class EvriAdapter:
    carrier = "evri"
    default_zone = _ZONE

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        if "trackingEvents" in document:
            parcels = [document]
        else:
            parcels = as_list(field(document, "results", where="payload"), where="results")
        if not parcels:
            failures = document.get("failures")
            raise PayloadError(
                "Evri answered with no parcel"
                + (f" ({len(failures)} unique id(s) failed)" if isinstance(failures, list) else "")
            )
        events = [
            event
            for index, parcel in enumerate(parcels)
            for event in _parcel(parcel, where=f"results[{index}]")
        ]
        return oldest_first(events)


def _parcel(value: Any, *, where: str) -> list[NormalizedEvent]:
    parcel = as_object(value, where=where)
    tracking_number = _tracking_number(parcel, where=where)
    raw_events = as_list(
        field(parcel, "trackingEvents", where=where), where=f"{where}.trackingEvents"
    )
    events = oldest_first(
        reversed(
            [
                _event(raw, tracking_number=tracking_number, where=f"{where}.trackingEvents[{i}]")
                for i, raw in enumerate(raw_events)
            ]
        )
    )
    if not events or is_final(events[-1].substatus):
        return events
    newest = as_object(raw_events[0], where=f"{where}.trackingEvents[0]")
    return with_estimate_on_newest(events, _estimate(newest.get("eta")))


def _event(value: Any, *, tracking_number: str, where: str) -> NormalizedEvent:
    raw = as_object(value, where=where)
    stage = sub_object(raw, "trackingStage")
    point = sub_object(raw, "trackingPoint")
    code = text(stage.get("trackingStageCode"), where=f"{where}.trackingStage.trackingStageCode")
    point_code = optional_text(point.get("trackingPointCode"))
    description = optional_text(point.get("description")) or optional_text(stage.get("description"))
    return build_event(
        tracking_number=tracking_number,
        carrier_code=code,
        carrier_reason_code=point_code,
        mapping=resolve(
            code, table=STAGES, refinements=POINT_REFINEMENTS, texts=[point_code, description]
        ),
        occurred_at=parse_instant(
            field(raw, "dateTime", where=where), zone=_ZONE, where=f"{where}.dateTime"
        ),
        description=description,
        location=None,
    )


def _tracking_number(parcel: dict[str, Any], *, where: str) -> str:
    identifiers = parcel.get("parcelIdentifiers")
    for item in identifiers if isinstance(identifiers, list) else []:
        if isinstance(item, dict) and optional_text(item.get("type")) == "BARCODE":
            barcode = optional_text(item.get("value"))
            if barcode is not None:
                return barcode
    return text(field(parcel, "uniqueId", where=where), where=f"{where}.uniqueId")


def _estimate(value: Any) -> DeliveryEstimate | None:
    if not isinstance(value, dict) or not value.get("start"):
        return None
    start = parse_instant(value["start"], zone=_ZONE, where="eta.start")
    end = parse_instant(value["end"], zone=_ZONE, where="eta.end") if value.get("end") else None
    return estimate(day=start.astimezone(_ZONE).date(), start=start, end=end)
