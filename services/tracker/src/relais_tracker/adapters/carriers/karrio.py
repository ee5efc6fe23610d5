"""Karrio: the tracker webhook of a Karrio server (an aggregator: one integration, the
real carrier in `carrier_name`).

Shape (karrioapi/karrio: modules/events/karrio/server/events/task_definitions/base/
webhook.py posts `{event, data}`; `data` is the server's TrackingStatus serializer,
modules/core/karrio/server/core/serializers.py): `{event: "tracker_updated",
data: {tracking_number, carrier_name, carrier_id, status, delivered, estimated_delivery,
events: [{date, time, timestamp, code, description, location, status, reason}], ...}}`.
`tracker_created` and `tracker_updated` are read (`tracker.created`, `tracker.updated`
too); any other event Karrio sends to the endpoint (`shipment_purchased`...) is
accepted and carries nothing to record: Karrio disables a webhook after 5 refused calls.
Karrio authenticates its calls with the header `X-Event-Id` carrying the webhook's
secret itself (scheme `shared_secret`, header `X-Event-Id`).

Each event is keyed by its Karrio `status` (TrackerStatus), narrowed by its `reason`
(TrackingIncidentReason) and, for deliveries, by the carrier's wording; the newest
event without a status takes the tracker's `status` (Karrio's is its latest event's).
`carrier_code` is the status, with the real carrier's own `code` after a `/` when Karrio
passes one (`delivery_failed/NI`); `carrier_reason_code` is Karrio's `reason`.
Times: Karrio writes the carrier's local wall-clock time (`date` + `time`, and a
`timestamp` whose `Z` is only appended, karrio/lib.py `fiso_timestamp`): read in the
zone of the event's country (the last part of `location`, `City, ..., FR`), else in the
real carrier's home zone (CARRIER_ZONES), else UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo

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
    fold,
    load_json,
    make_location,
    oldest_first,
    one_line,
    optional_text,
    parse_day,
    text,
    with_estimate_on_newest,
    zone_for,
)
from relais_tracker.adapters.carriers.aliases import carrier_code
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


# Source: karrio modules/core/karrio/server/core/serializers.py `TrackerStatus` (the
# statuses of a tracker and of each event; modules/sdk/karrio/core/units.py
# `TrackingStatus` is the same list).
STATUSES: Final[dict[str, CodeMapping]] = {
    "pending": _m(B.PENDING_UNSPECIFIED),
    "picked_up": _m(B.ACCEPTED_BY_CARRIER),
    "in_transit": _m(B.IN_TRANSIT_UNSPECIFIED),
    "on_hold": _m(B.HELD_BY_CARRIER, R.UNKNOWN),
    "cancelled": _m(B.CANCELLED, R.UNKNOWN),
    "delivered": _m(B.DELIVERED_UNSPECIFIED),
    "delivery_delayed": _m(B.DELAYED, R.UNKNOWN),
    "out_for_delivery": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),
    "ready_for_pickup": _m(B.READY_FOR_PICKUP),
    "delivery_failed": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),
    "return_to_sender": _m(B.RETURNING_TO_SENDER, R.UNKNOWN),
}
"""`unknown` is deliberately absent: Karrio could not map the carrier's code."""

# Source: karrio modules/sdk/karrio/core/units.py `TrackingIncidentReason` (Karrio's
# `consignee_*` is Relais's `recipient_*`; the other names are Relais's own).
REASONS: Final[dict[str, R]] = {
    "carrier_damaged_parcel": R.CARRIER_DAMAGED_PARCEL,
    "carrier_sorting_error": R.CARRIER_SORTING_ERROR,
    "carrier_address_not_found": R.CARRIER_ADDRESS_NOT_FOUND,
    "carrier_parcel_lost": R.CARRIER_PARCEL_LOST,
    "carrier_not_enough_time": R.CARRIER_NOT_ENOUGH_TIME,
    "carrier_vehicle_issue": R.CARRIER_VEHICLE_ISSUE,
    "carrier_capacity_exceeded": R.CARRIER_CAPACITY_EXCEEDED,
    "carrier_mechanical_delay": R.CARRIER_MECHANICAL_DELAY,
    "retailer_cancelled": R.RETAILER_CANCELLED,
    "retailer_incorrect_data": R.RETAILER_INCORRECT_DATA,
    "retailer_not_ready": R.RETAILER_NOT_READY,
    "retailer_incorrect_parcel": R.RETAILER_INCORRECT_PARCEL,
    "retailer_incorrect_dimensions": R.RETAILER_INCORRECT_DIMENSIONS,
    "retailer_packaging_issue": R.RETAILER_PACKAGING_ISSUE,
    "consignee_refused": R.RECIPIENT_REFUSED,
    "consignee_business_closed": R.RECIPIENT_BUSINESS_CLOSED,
    "consignee_not_available": R.RECIPIENT_NOT_AVAILABLE,
    "consignee_not_home": R.RECIPIENT_NOT_HOME,
    "consignee_cancelled": R.RECIPIENT_CANCELLED,
    "consignee_verification_failed": R.RECIPIENT_VERIFICATION_FAILED,
    "consignee_incorrect_address": R.RECIPIENT_INCORRECT_ADDRESS,
    "consignee_access_restricted": R.RECIPIENT_ACCESS_RESTRICTED,
    "consignee_safe_place_unavailable": R.RECIPIENT_SAFE_PLACE_UNAVAILABLE,
    "customs_delay": R.CUSTOMS_DELAY,
    "customs_documentation": R.CUSTOMS_DOCUMENTATION,
    "customs_duties_unpaid": R.CUSTOMS_DUTIES_UNPAID,
    "customs_prohibited": R.CUSTOMS_PROHIBITED,
    "customs_inspection": R.CUSTOMS_INSPECTION,
    "weather_delay": R.WEATHER_DELAY,
    "natural_disaster": R.NATURAL_DISASTER,
    "force_majeure": R.FORCE_MAJEURE,
    "parcel_being_researched": R.PARCEL_BEING_RESEARCHED,
    "security_issue": R.SECURITY_ISSUE,
    "regulatory_hold": R.REGULATORY_HOLD,
    "unknown": R.UNKNOWN,
}

# Source: the taxonomy's substatus for a Karrio status with that Karrio reason
# (contracts/docs/taxonomy.md), e.g. a failed delivery whose consignee was not home is
# `recipient_absent`; a pair not listed keeps the status's substatus with the reason.
REASON_SUBSTATUSES: Final[dict[tuple[str, str], B]] = {
    ("delivery_failed", "consignee_not_home"): B.RECIPIENT_ABSENT,
    ("delivery_failed", "consignee_not_available"): B.RECIPIENT_ABSENT,
    ("delivery_failed", "consignee_business_closed"): B.BUSINESS_CLOSED,
    ("delivery_failed", "consignee_access_restricted"): B.ACCESS_RESTRICTED,
    ("delivery_failed", "consignee_refused"): B.REFUSED_BY_RECIPIENT,
    ("delivery_failed", "consignee_incorrect_address"): B.INCORRECT_ADDRESS,
    ("delivery_failed", "carrier_address_not_found"): B.INCORRECT_ADDRESS,
    ("on_hold", "customs_delay"): B.HELD_AT_CUSTOMS,
    ("on_hold", "customs_documentation"): B.HELD_AT_CUSTOMS,
    ("on_hold", "customs_inspection"): B.HELD_AT_CUSTOMS,
    ("on_hold", "customs_prohibited"): B.HELD_AT_CUSTOMS,
    ("on_hold", "customs_duties_unpaid"): B.HELD_FOR_PAYMENT,
    ("on_hold", "consignee_incorrect_address"): B.INCORRECT_ADDRESS,
    ("on_hold", "carrier_parcel_lost"): B.LOST,
    ("on_hold", "carrier_damaged_parcel"): B.DAMAGED,
    ("delivery_delayed", "weather_delay"): B.DELAYED_WEATHER,
    ("delivery_delayed", "natural_disaster"): B.DELAYED_EXTERNAL,
    ("delivery_delayed", "force_majeure"): B.DELAYED_EXTERNAL,
    ("delivery_delayed", "customs_delay"): B.HELD_AT_CUSTOMS,
    ("delivery_delayed", "carrier_parcel_lost"): B.LOST,
    ("delivery_delayed", "carrier_damaged_parcel"): B.DAMAGED,
    ("delivery_delayed", "carrier_mechanical_delay"): B.DELAYED_PROCESSING,
    ("delivery_delayed", "carrier_capacity_exceeded"): B.DELAYED_PROCESSING,
}

# Karrio's `delivered` and `delivery_failed` are coarse: the real carrier's wording (the
# event description Karrio passes on) narrows them, first keyword found wins.
REFINEMENTS: Final[dict[str, tuple[tuple[str, CodeMapping], ...]]] = {
    "delivered": (
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
        ("retire par", _m(B.PICKED_UP_AT_PICKUP_POINT)),
        ("picked up by", _m(B.PICKED_UP_AT_PICKUP_POINT)),
    ),
    "delivery_failed": (
        ("absent", _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)),
        ("not home", _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)),
        ("business closed", _m(B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)),
        ("no access", _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)),
        ("nicht angetroffen", _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)),
    ),
}

# Source: the zone each carrier's own adapter reads zone-less times in (docs/carriers.md,
# "zone for zone-less times"), by Relais code.
CARRIER_ZONES: Final[dict[str, str]] = {
    "colissimo": "Europe/Paris",
    "chronopost": "Europe/Paris",
    "mondial_relay": "Europe/Paris",
    "dpd": "Europe/Paris",
    "dhl": "Europe/Berlin",
    "gls": "Europe/Berlin",
    "ups": "America/New_York",
    "fedex": "America/Chicago",
    "usps": "America/New_York",
}

TRACKER_EVENTS: Final = frozenset(
    {"tracker_created", "tracker_updated", "tracker.created", "tracker.updated"}
)
_CLOCK: Final = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?$")


class KarrioAdapter:
    carrier = "karrio"
    default_zone = UTC

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        kind = text(field(document, "event", where="payload"), where="event")
        data = as_object(field(document, "data", where="payload"), where="data")
        if kind not in TRACKER_EVENTS:
            return []
        number = text(field(data, "tracking_number", where="data"), where="data.tracking_number")
        name = text(field(data, "carrier_name", where="data"), where="data.carrier_name")
        real = carrier_code(name)
        if real is None:
            raise PayloadError(f"data.carrier_name: {name[:40]!r} is not a carrier name")
        zone = ZoneInfo(CARRIER_ZONES.get(real, "UTC"))
        raws = [
            _Raw.of(as_object(raw, where=f"data.events[{i}]"), zone, where=f"data.events[{i}]")
            for i, raw in enumerate(as_list(data.get("events") or [], where="data.events"))
        ]
        newest = max(raws, key=lambda raw: raw.occurred_at) if raws else None
        tracker_status = optional_text(data.get("status"))
        events = [
            replace(_event(raw, number, tracker_status if raw is newest else None), carrier=real)
            for raw in raws
        ]
        return with_estimate_on_newest(oldest_first(events), _estimate(data))


@dataclass(frozen=True)
class _Raw:
    """One Karrio event with its time and country, before its code is chosen."""

    value: dict[str, Any]
    occurred_at: datetime
    country: str | None

    @classmethod
    def of(cls, value: dict[str, Any], zone: ZoneInfo, *, where: str) -> _Raw:
        country = _country(optional_text(value.get("location")))
        return cls(
            value, _occurred_at(value, zone_for(country, default=zone), where=where), country
        )


def _event(raw: _Raw, number: str, tracker_status: str | None) -> NormalizedEvent:
    """`tracker_status`: the tracker's status, given for the newest event only (taken when
    that event has no status of its own)."""
    value = raw.value
    status = optional_text(value.get("status")) or tracker_status or "unknown"
    reason = optional_text(value.get("reason"))
    code = optional_text(value.get("code"))
    description = optional_text(value.get("description"))
    return build_event(
        tracking_number=number,
        carrier_code="/".join(part for part in (status, code) if part),
        mapping=mapping_of(status, reason, description),
        occurred_at=raw.occurred_at,
        description=description,
        location=make_location(country=raw.country, facility=value.get("location")),
        carrier_reason_code=reason,
    )


def mapping_of(status: str, reason: str | None, description: str | None) -> CodeMapping | None:
    """What a Karrio status means, narrowed by its reason on a problem (else by the
    carrier's wording); None for a status the table does not know."""
    mapping = STATUSES.get(status)
    if mapping is None:
        return None
    if mapping[2] is None or reason is None or reason not in REASONS or reason == "unknown":
        haystack = fold(description or "")
        refined = (found for keyword, found in REFINEMENTS.get(status, ()) if keyword in haystack)
        return next(refined, mapping)
    substatus = REASON_SUBSTATUSES.get((status, reason), mapping[1])
    return (status_of(substatus), substatus, REASONS[reason])


def _estimate(data: dict[str, Any]) -> DeliveryEstimate | None:
    day = optional_text(data.get("estimated_delivery"))
    if day is None:
        return None
    return estimate(day=parse_day(day[:10], day_format="%Y-%m-%d", where="data.estimated_delivery"))


def _country(location: str | None) -> str | None:
    """The ISO country Karrio's connectors put last in `location` (`Lyon, 69007, FR`)."""
    last = one_line(location or "").rsplit(",", 1)[-1].strip()
    return last.upper() if len(last) == 2 and last.isalpha() and last.isascii() else None


def _occurred_at(raw: dict[str, Any], zone: ZoneInfo, *, where: str) -> datetime:
    stamp = optional_text(raw.get("timestamp"))
    if stamp is not None:
        try:
            local = datetime.fromisoformat(stamp.removesuffix("Z").removesuffix("z"))
        except ValueError:
            raise PayloadError(f"{where}.timestamp: {stamp[:40]!r} is not ISO 8601") from None
        return local.replace(tzinfo=zone)
    day = parse_day(field(raw, "date", where=where), day_format="%Y-%m-%d", where=f"{where}.date")
    return datetime.combine(day, _clock(raw.get("time"), where=f"{where}.time"), tzinfo=zone)


def _clock(value: Any, *, where: str) -> time:
    """Karrio's `HH:MM AM/PM` (its `%H:%M %p`: 24-hour with a suffix), a 12-hour
    `hh:MM PM`, or `HH:MM[:SS]`; no time at all is midnight."""
    raw = optional_text(value)
    if raw is None:
        return time(0, 0)
    match = _CLOCK.match(raw)
    if match is None:
        raise PayloadError(f"{where}: {raw[:20]!r} is not a time of day")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    suffix = (match[4] or "").lower()
    if suffix == "pm" and hour < 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        raise PayloadError(f"{where}: {raw[:20]!r} is not a time of day")
    return time(hour, minute, second)
