"""GLS ShipIT (ShipIT-Farm REST, POST .../backend/rs/tracking/parceldetails, content type
application/glsVersion1+json): the parcel details with their tracking history.

Shape (shipit-farm.yaml, ParcelDetailResponse, vendored in karrio
modules/connectors/gls/vendor/): `{UnitDetail: {TrackID, ShipmentReference?, Weight,
DeliveryDate?, Signature?, History: [{Date (date-time), LocationCode, Location, Country,
StatusCode, Description}]}}`, optionally wrapped in `{ParcelDetailResponse: ...}`. The
history's `StatusCode` is a GLS event code, read by the caller's `code_mapping` (GLS
event numbers such as 3.0, or Track And Trace codes such as DELIVD.NORMAL); zone-less
dates are read in the zone of the entry's country, else the adapter's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    as_list,
    as_object,
    build_event,
    field,
    make_location,
    oldest_first,
    optional_text,
    parse_instant,
    text,
    zone_for,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent

CodeMapper = Callable[[str, Iterable[str | None]], CodeMapping | None]


def is_unit_detail(document: dict[str, Any]) -> bool:
    return "UnitDetail" in document or "ParcelDetailResponse" in document


def parse_unit_detail(
    document: dict[str, Any], *, code_mapping: CodeMapper, default_zone: ZoneInfo
) -> list[NormalizedEvent]:
    if "ParcelDetailResponse" in document:
        document = as_object(document["ParcelDetailResponse"], where="ParcelDetailResponse")
    unit = as_object(field(document, "UnitDetail", where="payload"), where="UnitDetail")
    tracking_number = text(field(unit, "TrackID", where="UnitDetail"), where="UnitDetail.TrackID")
    history = as_list(unit.get("History") or [], where="UnitDetail.History")
    return oldest_first(
        reversed(
            [
                _event(
                    raw,
                    tracking_number=tracking_number,
                    code_mapping=code_mapping,
                    zone=default_zone,
                    where=f"UnitDetail.History[{index}]",
                )
                for index, raw in enumerate(history)
            ]
        )
    )


def _event(
    value: Any, *, tracking_number: str, code_mapping: CodeMapper, zone: ZoneInfo, where: str
) -> NormalizedEvent:
    raw = as_object(value, where=where)
    code = text(field(raw, "StatusCode", where=where), where=f"{where}.StatusCode")
    description = optional_text(raw.get("Description"))
    country = optional_text(raw.get("Country"))
    return build_event(
        tracking_number=tracking_number,
        carrier_code=code,
        mapping=code_mapping(code, [description]),
        occurred_at=parse_instant(
            field(raw, "Date", where=where),
            zone=zone_for(country, default=zone),
            where=f"{where}.Date",
        ),
        description=description,
        location=make_location(
            city=raw.get("Location"), country=country, facility=raw.get("LocationCode")
        ),
    )
