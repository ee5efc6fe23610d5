"""17TRACK: the Tracking API push (an aggregator: one integration, the real carrier named
by 17TRACK's numeric carrier key).

Shape (API v2.2 and v2.4, https://asset.17track.net/api/document/v2.4_en/index.html,
section Webhook): `{event: "TRACKING_UPDATED", data: {number, carrier: <key>, tag,
track_info: {latest_status: {status, sub_status}, latest_event, time_metrics:
{estimated_delivery_date: {from, to}}, tracking: {providers: [{provider: {key, name},
events: [{time_iso, time_utc, time_raw, description, location, stage, sub_status,
address: {country, state, city, street, postal_code}}]}]}}}}`. `TRACKING_STOPPED`
(tracking ended, no events) is accepted and carries nothing to record.
Signed with the header `sign`: hex SHA-256 of the raw body + "/" + the account's security
key (scheme `seventeen_track_sign`).

Each event is keyed by its `sub_status` (v2.4), else by its milestone `stage` (v2.2),
else, for the newest event only, by `latest_status.sub_status`; a v2.2 event that marks
no milestone is in transit (code `NoStage`: 17TRACK classifies nothing else per event).
A sub-status 17TRACK adds later is read by its main status (the part before `_`).
The real carrier is `data.carrier` through CARRIER_KEYS, else the name of the provider
with that key (or the first provider) through the alias table; all events of a push are
that carrier's (a postal item's origin and destination posts share its number).
Times: `time_iso` with its offset, else `time_utc` (shown in the zone of the event's country),
else a zone-less `time_iso` in the zone of the event's country, else UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from relais_contracts.tracking import DeliveryEstimate, status_of
from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_tracker.adapters.carriers._common import (
    UTC,
    CodeMapping,
    as_list,
    as_object,
    build_event,
    estimate,
    field,
    load_json,
    make_location,
    oldest_first,
    optional_text,
    parse_instant,
    resolve,
    sub_object,
    text,
    with_estimate_on_newest,
    zone_for,
)
from relais_tracker.adapters.carriers.aliases import GENERIC, carrier_code
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


# Source: 17TRACK "Understanding Tracking Status (Main Status & Substatus)"
# (https://help.17track.net/hc/en-us/articles/37471096573337) and the API v2.4
# documentation's sub-status table (the 30 sub-statuses).
SUB_STATUSES: Final[dict[str, CodeMapping]] = {
    "NotFound_Other": _m(B.PENDING_UNSPECIFIED),  # the carrier gave no information
    "NotFound_InvalidCode": _m(B.PENDING_UNSPECIFIED),  # invalid number (or wrong carrier)
    "InfoReceived": _m(B.INFO_RECEIVED_UNSPECIFIED),
    "InTransit_PickedUp": _m(B.ACCEPTED_BY_CARRIER),  # collected from the sender
    "InTransit_Other": _m(B.IN_TRANSIT_UNSPECIFIED),
    "InTransit_Departure": _m(B.DEPARTED_FACILITY),  # left the origin country's port
    "InTransit_Arrival": _m(B.ARRIVED_IN_DESTINATION_COUNTRY),  # destination port
    "InTransit_CustomsProcessing": _m(B.CUSTOMS_CLEARANCE_STARTED),
    "InTransit_CustomsReleased": _m(B.CUSTOMS_CLEARED),
    "InTransit_CustomsRequiringInformation": _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_DOCUMENTATION),
    "Expired_Other": _m(B.EXPIRED_UNSPECIFIED),
    "AvailableForPickup_Other": _m(B.READY_FOR_PICKUP),  # at the destination pickup point
    "OutForDelivery_Other": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),
    "DeliveryFailure_Other": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),
    "DeliveryFailure_NoBody": _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE),
    "DeliveryFailure_Security": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.SECURITY_ISSUE),
    "DeliveryFailure_Rejected": _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED),
    "DeliveryFailure_InvalidAddress": _m(B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS),
    "Delivered_Other": _m(B.DELIVERED_UNSPECIFIED),
    "Exception_Other": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
    "Exception_Returning": _m(B.RETURNING_TO_SENDER, R.UNKNOWN),
    "Exception_Returned": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),
    "Exception_NoBody": _m(B.EXCEPTION_UNSPECIFIED, R.RECIPIENT_NOT_AVAILABLE),  # not found
    "Exception_Security": _m(B.HELD_BY_CARRIER, R.SECURITY_ISSUE),  # security, customs, fees
    "Exception_Damage": _m(B.DAMAGED, R.CARRIER_DAMAGED_PARCEL),
    "Exception_Rejected": _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED),
    "Exception_Delayed": _m(B.DELAYED, R.UNKNOWN),
    "Exception_Lost": _m(B.LOST, R.CARRIER_PARCEL_LOST),
    "Exception_Destroyed": _m(B.DISPOSED, R.CUSTOMS_PROHIBITED),  # destroyed (by customs)
    "Exception_Cancel": _m(B.CANCELLED, R.UNKNOWN),
}

# Source: the same pages, the 9 main statuses: a sub-status 17TRACK adds later is read
# by its main status (the part of its name before `_`).
MAIN_STATUSES: Final[dict[str, CodeMapping]] = {
    "NotFound": _m(B.PENDING_UNSPECIFIED),
    "InfoReceived": _m(B.INFO_RECEIVED_UNSPECIFIED),
    "InTransit": _m(B.IN_TRANSIT_UNSPECIFIED),
    "Expired": _m(B.EXPIRED_UNSPECIFIED),
    "AvailableForPickup": _m(B.READY_FOR_PICKUP),
    "OutForDelivery": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),
    "DeliveryFailure": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),
    "Delivered": _m(B.DELIVERED_UNSPECIFIED),
    "Exception": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
}

# Source: API v2.2 documentation, `milestone[].key_stage` / `events[].stage` (the event
# that reached a milestone); v2.2 events carry no sub-status.
STAGES: Final[dict[str, CodeMapping]] = {
    "InfoReceived": _m(B.INFO_RECEIVED_UNSPECIFIED),
    "PickedUp": _m(B.ACCEPTED_BY_CARRIER),
    "Departure": _m(B.DEPARTED_FACILITY),
    "Arrival": _m(B.ARRIVED_IN_DESTINATION_COUNTRY),
    "AvailableForPickup": _m(B.READY_FOR_PICKUP),
    "OutForDelivery": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),
    "Delivered": _m(B.DELIVERED_UNSPECIFIED),
    "Returning": _m(B.RETURNING_TO_SENDER, R.UNKNOWN),
    "Returned": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),
}

NO_STAGE: Final = "NoStage"
"""The code of a v2.2 event that marks no milestone: in transit."""

_DELIVERED_WORDING: Final = (
    ("neighbour", _m(B.DELIVERED_TO_NEIGHBOUR)),
    ("neighbor", _m(B.DELIVERED_TO_NEIGHBOUR)),
    ("voisin", _m(B.DELIVERED_TO_NEIGHBOUR)),
    ("nachbar", _m(B.DELIVERED_TO_NEIGHBOUR)),
    ("mailbox", _m(B.DELIVERED_TO_MAILBOX)),
    ("letterbox", _m(B.DELIVERED_TO_MAILBOX)),
    ("boite aux lettres", _m(B.DELIVERED_TO_MAILBOX)),
    ("briefkasten", _m(B.DELIVERED_TO_MAILBOX)),
    ("safe place", _m(B.DELIVERED_TO_SAFE_PLACE)),
    ("front door", _m(B.DELIVERED_TO_SAFE_PLACE)),
    ("picked up by", _m(B.PICKED_UP_AT_PICKUP_POINT)),
    ("collected by", _m(B.PICKED_UP_AT_PICKUP_POINT)),
    ("retire par", _m(B.PICKED_UP_AT_PICKUP_POINT)),
)
_FAILED_WORDING: Final = (
    ("business closed", _m(B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)),
    ("no access", _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)),
    ("absent", _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)),
    ("not home", _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)),
    ("not available", _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)),
    ("nicht angetroffen", _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)),
)

# 17TRACK's delivered and failure codes are coarse: the real carrier's own wording (its
# description, which 17TRACK passes on) narrows them, first keyword found wins.
REFINEMENTS: Final[dict[str, tuple[tuple[str, CodeMapping], ...]]] = {
    "Delivered_Other": _DELIVERED_WORDING,
    "Delivered": _DELIVERED_WORDING,
    "DeliveryFailure_Other": _FAILED_WORDING,
}

# Source: 17TRACK's carrier list (https://res.17track.net/asset/carrier/info/
# apicarrier.all.json, `key` and `_name`; copy of 2026-03), the keys of the carriers
# European merchants use, as Relais carrier names (the alias table makes them codes; a
# carrier without an adapter keeps its name: `royal_mail`).
CARRIER_KEYS: Final[dict[int, str]] = {
    6051: "colissimo",  # La Poste (Colissimo)
    100273: "chronopost",  # Chronopost
    100304: "mondial_relay",  # Mondial Relay
    100001: "dhl",  # DHL Express
    7041: "dhl",  # DHL Paket
    7044: "dhl",  # Deutsche Post Mail
    101266: "dhl",  # DHL
    100002: "ups",  # UPS
    100003: "fedex",  # FedEx
    100854: "fedex",  # FedEx France Domestic
    100007: "dpd",  # DPD (DE)
    100072: "dpd",  # DPD (FR)
    100010: "dpd",  # DPD (UK)
    100321: "dpd",  # DPD (BE)
    100811: "dpd",  # DPD (NL)
    101108: "dpd",  # DPD Group
    100005: "gls",  # GLS
    101272: "gls",  # GLS (FR)
    101070: "gls",  # GLS (DE)
    100384: "gls",  # GLS (NL)
    101109: "gls",  # GLS Group
    100027: "colis_prive",  # Colis Prive (Colis Privé)
    100461: "relais_colis",  # RelaisColis
    11031: "royal_mail",  # Royal Mail
    11033: "parcelforce",  # Parcelforce
    100331: "evri",  # EVRi
    100031: "hermes_de",  # Hermes (DE)
    14041: "postnl",  # PostNL
    2061: "bpost",  # Bpost
    100043: "inpost",  # InPost (PL)
    19181: "correos",  # Correos Spain
    100048: "correos_express",  # Correos Express
    9071: "poste_italiane",  # Poste Italiane
    100019: "sda",  # SDA
    100026: "brt",  # BRT Bartolini(DPD)
    21051: "usps",  # USPS
}


@dataclass(frozen=True)
class _Raw:
    """One provider event with its time, before its code is chosen."""

    value: dict[str, Any]
    occurred_at: datetime
    country: str | None


class SeventeenTrackAdapter:
    carrier = "seventeen_track"
    default_zone = UTC

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        kind = text(field(document, "event", where="payload"), where="event")
        data = as_object(field(document, "data", where="payload"), where="data")
        number = text(field(data, "number", where="data"), where="data.number")
        if kind == "TRACKING_STOPPED":
            return []
        if kind != "TRACKING_UPDATED":
            raise PayloadError(f"event: {kind[:40]!r} is not a 17TRACK push event")
        info = sub_object(data, "track_info")
        providers = as_list(
            sub_object(info, "tracking").get("providers") or [], where="tracking.providers"
        )
        raws = _raw_events(providers)
        latest = optional_text(sub_object(info, "latest_status").get("sub_status"))
        newest = max(raws, key=lambda raw: raw.occurred_at) if raws else None
        events = [
            _event(raw, number=number, latest=latest if raw is newest else None) for raw in raws
        ]
        real = _real_carrier(data.get("carrier"), providers)
        ordered = oldest_first(replace(event, carrier=real) for event in events)
        return with_estimate_on_newest(ordered, _estimate(info))


def _raw_events(providers: list[Any]) -> list[_Raw]:
    raws = []
    for index, provider in enumerate(providers):
        where = f"tracking.providers[{index}]"
        events = as_list(as_object(provider, where=where).get("events") or [], where=where)
        for number, value in enumerate(events):
            raw = as_object(value, where=f"{where}.events[{number}]")
            country = optional_text(sub_object(raw, "address").get("country"))
            raws.append(
                _Raw(raw, _occurred_at(raw, country, where=f"{where}.events[{number}]"), country)
            )
    return raws


def _occurred_at(raw: dict[str, Any], country: str | None, *, where: str) -> datetime:
    zone = zone_for(country, default=UTC)
    local = optional_text(raw.get("time_iso"))
    if local is not None and (_has_offset(local) or raw.get("time_utc") is None):
        return parse_instant(local, zone=zone, where=f"{where}.time_iso")
    utc = parse_instant(field(raw, "time_utc", where=where), zone=UTC, where=f"{where}.time_utc")
    return utc.astimezone(zone)


def _has_offset(value: str) -> bool:
    """Whether an ISO 8601 time carries its offset (an unreadable one is left for
    parse_instant to refuse)."""
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return True


def _event(raw: _Raw, *, number: str, latest: str | None) -> NormalizedEvent:
    """`latest`: the push's latest sub-status, given for the newest event only."""
    value = raw.value
    description = optional_text(value.get("description"))
    translated = optional_text(sub_object(value, "description_translation").get("description"))
    code = (
        optional_text(value.get("sub_status"))
        or optional_text(value.get("stage"))
        or latest
        or NO_STAGE
    )
    address = sub_object(value, "address")
    return build_event(
        tracking_number=number,
        carrier_code=code,
        mapping=_mapping(code, texts=(description, translated)),
        occurred_at=raw.occurred_at,
        description=description or translated,
        location=make_location(
            city=address.get("city"),
            postal_code=address.get("postal_code"),
            country=raw.country,
            facility=value.get("location"),
        ),
    )


_CODES: Final[dict[str, CodeMapping]] = {**STAGES, **SUB_STATUSES}


def _mapping(code: str, *, texts: tuple[str | None, ...]) -> CodeMapping | None:
    if code == NO_STAGE:
        return _m(B.IN_TRANSIT_UNSPECIFIED)
    found = resolve(code, table=_CODES, refinements=REFINEMENTS, texts=texts)
    return found or MAIN_STATUSES.get(code.split("_", 1)[0])


def _real_carrier(key: Any, providers: list[Any]) -> str:
    """The carrier 17TRACK tracks the number with, as a Relais code."""
    if isinstance(key, int) and key in CARRIER_KEYS:
        return carrier_code(CARRIER_KEYS[key]) or CARRIER_KEYS[key]
    named = [sub_object(p, "provider") for p in providers if isinstance(p, dict)]
    chosen = next((p for p in named if p.get("key") == key), named[0] if named else {})
    provider_key = chosen.get("key")
    if isinstance(provider_key, int) and provider_key in CARRIER_KEYS:
        return carrier_code(CARRIER_KEYS[provider_key]) or CARRIER_KEYS[provider_key]
    name = optional_text(chosen.get("name"))
    return (carrier_code(name) if name else None) or GENERIC


def _estimate(info: dict[str, Any]) -> DeliveryEstimate | None:
    window = sub_object(sub_object(info, "time_metrics"), "estimated_delivery_date")
    bounds = [
        parse_instant(value, zone=UTC, where=f"estimated_delivery_date.{name}")
        for name in ("from", "to")
        if (value := optional_text(window.get(name))) is not None
    ]
    if not bounds:
        return None
    start, end = bounds[0], bounds[-1]
    if start.date() == end.date() and start < end:
        return estimate(day=start.date(), start=start, end=end)
    return estimate(day=end.date())
