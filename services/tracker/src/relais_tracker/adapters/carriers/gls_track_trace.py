"""GLS Track And Trace V1 (https://api.gls-group.net/track-and-trace-v1/tracking/simple/
trackids/{unitnos} and .../references/{references}), the GLS Group developer portal API.

Shape (ecitrackandtrace.yaml, ParcelsResponseDTO): `{parcels: [{requested, unitno,
status, statusDateTime, events: [{code, city, postalCode, country, description,
eventDateTime (ISO 8601 with offset, "+0200")}], errorCode?, errorMessage?}]}`, events
newest first. A parcel asked with `showEvents=false` has only its `status`: it becomes
one event at `statusDateTime`. An errored parcel (`errorCode` E_404_01...) is skipped;
a payload with nothing but errors is a PayloadError.

The event `code` is "<group>.<detail>" (DELIVD.PARCELSHOP): `TRACK_TRACE_CODES` knows
whole codes, `TRACK_TRACE_GROUPS` the groups, and GLS's English description narrows a
group (`TRACK_TRACE_REFINEMENTS`). The newest event whose code is unknown is described
by the parcel's documented `status` (the caller's `status_mapping`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import TrackingStatus as S
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    Refinements,
    as_list,
    as_object,
    build_event,
    field,
    make_location,
    oldest_first,
    optional_text,
    parse_instant,
    resolve,
    text,
    zone_for,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError

StatusMapping = Callable[[str, Iterable[str | None]], CodeMapping | None]
"""The meaning of a parcel `status` (GLS ParcelDTO.status), narrowed on the texts."""

_READY: Final = (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)

# Source: GLS Track And Trace V1, EventDTO.code (ecitrackandtrace.yaml v1.0.7, vendored in
# karrio modules/connectors/gls/vendor/: INTIAL.PREADVICE, INTIAL.E48_DATA, INTIAL.NORMAL,
# DELIVD.PARCELSHOP in its examples, CANCEL.NORMAL, CHANGD.MONEWADDR, CHANGD.PARCELBOX in
# the /tracking/events/codes example) and the codes of live `simple/trackids` answers
# quoted with their descriptions by GLS integrators (INBOUD.NORMAL "The parcel has
# reached the parcel center", OUTBOD.NORMAL "has left the parcel center", OUTDEL.NORMAL
# "is expected to be delivered during the day", DELIVD.NORMAL "has been delivered",
# DELIVD.DEL_BY_PSAPP handed out by the ParcelShop app).
TRACK_TRACE_CODES: Final[dict[str, CodeMapping]] = {
    "INTIAL.PREADVICE": (S.INFO_RECEIVED, B.LABEL_CREATED, None),
    "INTIAL.E48_DATA": (S.INFO_RECEIVED, B.PICKUP_SCHEDULED, None),
    "INTIAL.NORMAL": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),
    "INBOUD.NORMAL": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),
    "OUTBOD.NORMAL": (S.IN_TRANSIT, B.DEPARTED_FACILITY, None),
    "OUTDEL.NORMAL": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),
    "DELIVD.NORMAL": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "DELIVD.PARCELSHOP": _READY,
    "DELIVD.DEL_BY_PSAPP": (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None),
    "CANCEL.NORMAL": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),
    "CHANGD.MONEWADDR": (S.IN_TRANSIT, B.REDIRECTED, None),
    "CHANGD.PARCELBOX": (S.IN_TRANSIT, B.REDIRECTED, None),
}

# Source: the same documents: the event group is the part of the code before the dot
# (INTIAL initial data, INBOUD inbound to a parcel center, OUTBOD outbound, OUTDEL out
# for delivery, DELIVD delivered, CANCEL cancelled, CHANGD delivery change completed).
TRACK_TRACE_GROUPS: Final[dict[str, CodeMapping]] = {
    "INTIAL": (S.INFO_RECEIVED, B.INFO_RECEIVED_UNSPECIFIED, None),
    "INBOUD": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),
    "OUTBOD": (S.IN_TRANSIT, B.DEPARTED_FACILITY, None),
    "OUTDEL": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),
    "DELIVD": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "CANCEL": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),
    "CHANGD": (S.IN_TRANSIT, B.REDIRECTED, None),
}

# GLS's English event descriptions (Accept-Language EN), folded; the first keyword found
# wins. They narrow a group whose detail code is not in TRACK_TRACE_CODES.
TRACK_TRACE_REFINEMENTS: Final[Refinements] = {
    "DELIVD": (
        ("picked up", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("neighbour", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
        ("parcellocker", _READY),
        ("parcel locker", _READY),
        ("parcelshop", _READY),
        ("deposit", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
        ("damaged", (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
    ),
    "INTIAL": (
        ("handed over to gls", (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None)),
        ("not yet handed over", (S.INFO_RECEIVED, B.LABEL_CREATED, None)),
    ),
}


def track_trace_mapping(code: str, texts: Iterable[str | None]) -> CodeMapping | None:
    """A Track And Trace V1 event code: the whole code, else its group narrowed on the
    description; None when neither is known."""
    if code in TRACK_TRACE_CODES:
        return TRACK_TRACE_CODES[code]
    return resolve(
        code.split(".", 1)[0],
        table=TRACK_TRACE_GROUPS,
        refinements=TRACK_TRACE_REFINEMENTS,
        texts=texts,
    )


def parse_parcels(
    document: dict[str, Any], *, status_mapping: StatusMapping, default_zone: ZoneInfo
) -> list[NormalizedEvent]:
    parcels = as_list(document["parcels"], where="parcels")
    events: list[NormalizedEvent] = []
    errors: list[str] = []
    for index, raw in enumerate(parcels):
        where = f"parcels[{index}]"
        parcel = as_object(raw, where=where)
        if optional_text(parcel.get("errorCode")) and not parcel.get("events"):
            errors.append(_error(parcel))
            continue
        events.extend(
            _parcel(parcel, status_mapping=status_mapping, default_zone=default_zone, where=where)
        )
    if not events and errors:
        raise PayloadError(f"GLS answered with an error: {errors[0]}")
    if not events:
        raise PayloadError("parcels: empty (unknown parcel?)")
    return oldest_first(events)


def _parcel(
    parcel: dict[str, Any], *, status_mapping: StatusMapping, default_zone: ZoneInfo, where: str
) -> list[NormalizedEvent]:
    tracking_number = _tracking_number(parcel, where=where)
    status = optional_text(parcel.get("status"))
    raw_events = as_list(parcel.get("events") or [], where=f"{where}.events")
    if not raw_events and status and parcel.get("statusDateTime"):
        raw_events = [{"code": status, "eventDateTime": parcel["statusDateTime"]}]
    events = sorted(
        reversed(
            [
                _event(
                    raw, tracking_number=tracking_number, zone=default_zone, where=f"{where}[{i}]"
                )
                for i, raw in enumerate(raw_events)
            ]
        ),
        key=lambda event: event.occurred_at,
    )
    if events and not events[-1].code_recognized and status:
        events[-1] = _described_by_status(events[-1], status, status_mapping)
    return events


def _tracking_number(parcel: dict[str, Any], *, where: str) -> str:
    """The number asked for when it names this parcel (GLS may answer a 12-digit parcel
    number with its 11-digit unit number), else the unit number."""
    requested = optional_text(parcel.get("requested"))
    unitno = optional_text(parcel.get("unitno"))
    if requested and (unitno is None or requested.startswith(unitno)):
        return requested
    return text(unitno, where=f"{where}.unitno")


def _event(value: Any, *, tracking_number: str, zone: ZoneInfo, where: str) -> NormalizedEvent:
    raw = as_object(value, where=where)
    code = text(field(raw, "code", where=where), where=f"{where}.code")
    description = optional_text(raw.get("description"))
    country = optional_text(raw.get("country"))
    return build_event(
        tracking_number=tracking_number,
        carrier_code=code,
        mapping=track_trace_mapping(code, [description]),
        occurred_at=parse_instant(
            field(raw, "eventDateTime", where=where),
            zone=zone_for(country, default=zone),
            where=f"{where}.eventDateTime",
        ),
        description=description,
        location=make_location(
            city=raw.get("city"), postal_code=raw.get("postalCode"), country=country
        ),
    )


def _described_by_status(
    event: NormalizedEvent, status: str, status_mapping: StatusMapping
) -> NormalizedEvent:
    mapping = status_mapping(status, [event.description])
    if mapping is None:
        return event
    return build_event(
        tracking_number=event.tracking_number,
        carrier_code=event.carrier_code,
        carrier_reason_code=status,
        mapping=mapping,
        occurred_at=event.occurred_at,
        description=event.description,
        location=event.location,
    )


def _error(parcel: dict[str, Any]) -> str:
    code = optional_text(parcel.get("errorCode")) or "?"
    message = optional_text(parcel.get("errorMessage")) or "no message"
    requested = optional_text(parcel.get("requested")) or "?"
    return f"{code} {message} ({requested})"
