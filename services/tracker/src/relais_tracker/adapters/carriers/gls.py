"""GLS: every JSON shape GLS answers with, told apart by their top-level keys:
- `parcels`: the Track And Trace V1 API of the GLS Group developer portal
  (gls_track_trace);
- `UnitDetail`: the ShipIT tracking answer (gls_shipit);
- `tuStatus` or a bare unit: the public track & trace JSON
  (gls-group.com/app/service/open/rest/{CC}/{lang}/rstt001 and rstt028), below.

Public track & trace shape: `{tuStatus: [T]}` or a bare T, where T is `{tuNo,
progressBar: {statusInfo, retourFlag, evtNos}, history: [{date: YYYY-MM-DD, time:
HH:MM:SS, evtNo?, evtDscr, address: {city, countryCode, countryName}}]}`, history newest
first, times local and zone-less (read in the scan country's zone, else Europe/Berlin).
Each history entry's `evtNo` is its code; GLS publishes no complete list, so the
parcel-level `progressBar.statusInfo` (a documented enum) describes the newest entry
when its `evtNo` is missing or unknown.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
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
    load_json,
    make_location,
    oldest_first,
    optional_text,
    parse_local,
    resolve,
    sub_object,
    text,
    zone_for,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError
from relais_tracker.adapters.carriers.gls_shipit import is_unit_detail, parse_unit_detail
from relais_tracker.adapters.carriers.gls_track_trace import parse_parcels, track_trace_mapping

# Source: `history[].evtNo` values observed on GLS group captures and documented in
# ha-parcel-integrations/ha-gls (countries/group, _EVENT_STATUS_MAP) with their
# `evtDscr` wording.
EVENT_CODES: Final[dict[str, CodeMapping]] = {
    "0.100": (S.INFO_RECEIVED, B.LABEL_CREATED, None),  # data entered, not handed over
    "0.0": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # handed over to GLS
    "17.0": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # picked up from the sender
    "2.0": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # reached a parcel center
    "11.0": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),  # out for delivery
    "3.0": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),  # delivered
    "3.896": (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None),  # in a ParcelLocker
}

# Source: GLS Track and Trace API, ParcelDTO.status enum (ecitrackandtrace.yaml, as
# quoted in karrio modules/connectors/gls/karrio/providers/gls/units.py, which maps
# DELIVEREDPS to both delivered and ready_for_pickup and leaves NOTPICKEDUP a failed
# delivery: here a ParcelShop arrival is available_for_pickup and NOTPICKEDUP is the
# pickup hold that expired).
STATUS_INFO: Final[dict[str, CodeMapping]] = {
    "PREADVICE": (S.INFO_RECEIVED, B.LABEL_CREATED, None),
    "PROCESSING": (S.INFO_RECEIVED, B.LABEL_CREATED, None),
    "PLANNEDPICKUP": (S.INFO_RECEIVED, B.PICKUP_SCHEDULED, None),
    "INPICKUP": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),
    "INTRANSIT": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),
    "INWAREHOUSE": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),
    "MULTIPACK": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),
    "INDELIVERY": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),
    "DELIVEREDPS": (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None),
    "DELIVERED": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "FINAL": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "NOTDELIVERED": (S.FAILED_ATTEMPT, B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),
    "NOTPICKEDUP": (S.EXCEPTION, B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED),
    "RETURNED": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN),
    "CANCELED": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),
    "CANCELLED": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),
    "UNAVAILABLE": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
}

_ABSENT: Final = (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)

# GLS's standard `evtDscr` wording (English), folded; the first keyword found wins.
TEXT_REFINEMENTS: Final[Refinements] = {
    "3.0": (
        ("neighbour", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
        ("parcelshop", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("deposit", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
    ),
    "DELIVERED": (("neighbour", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),),
    "NOTDELIVERED": (
        ("not present", _ABSENT),
        ("not at home", _ABSENT),
        ("absent", _ABSENT),
        ("closed", (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)),
        ("incomplete", (S.EXCEPTION, B.INCOMPLETE_ADDRESS, R.RECIPIENT_INCOMPLETE_ADDRESS)),
        ("address", (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("refused", (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
        ("damaged", (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
    ),
    "RETURNED": (
        ("refused", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RECIPIENT_REFUSED)),
        ("address", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RECIPIENT_INCORRECT_ADDRESS)),
    ),
}


class GlsAdapter:
    carrier = "gls"
    default_zone = ZoneInfo("Europe/Berlin")

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        if "parcels" in document:
            return parse_parcels(
                document, status_mapping=status_mapping, default_zone=self.default_zone
            )
        if is_unit_detail(document):
            return parse_unit_detail(
                document, code_mapping=shipit_mapping, default_zone=self.default_zone
            )
        if "tuStatus" in document:
            units = as_list(document["tuStatus"], where="tuStatus")
        elif "history" in document:
            units = [document]
        else:
            error = _error_of(document)
            raise PayloadError(
                f"GLS answered with an error: {error}"
                if error
                else "payload: no parcels, UnitDetail nor tuStatus list"
            )
        if not units:
            raise PayloadError("tuStatus: empty (unknown parcel?)")
        events: list[NormalizedEvent] = []
        for index, unit in enumerate(units):
            events.extend(self._unit(unit, where=f"tuStatus[{index}]"))
        return oldest_first(events)

    def _unit(self, value: Any, *, where: str) -> list[NormalizedEvent]:
        unit = as_object(value, where=where)
        tracking_number = text(field(unit, "tuNo", where=where), where=f"{where}.tuNo")
        progress = sub_object(unit, "progressBar")
        status_info = optional_text(progress.get("statusInfo"))
        history = as_list(field(unit, "history", where=where), where=f"{where}.history")
        events = [
            self._event(
                raw,
                tracking_number=tracking_number,
                status_info=status_info if index == 0 else None,
                where=f"{where}.history[{index}]",
            )
            for index, raw in enumerate(history)
        ]
        return sorted(reversed(events), key=lambda event: event.occurred_at)

    def _event(
        self, value: Any, *, tracking_number: str, status_info: str | None, where: str
    ) -> NormalizedEvent:
        raw = as_object(value, where=where)
        address = sub_object(raw, "address")
        country = optional_text(address.get("countryCode"))
        description = html.unescape(optional_text(raw.get("evtDscr")) or "")
        evt_no = optional_text(raw.get("evtNo"))
        mapping = (
            resolve(evt_no, table=EVENT_CODES, refinements=TEXT_REFINEMENTS, texts=[description])
            if evt_no
            else None
        )
        if mapping is None and status_info is not None:
            mapping = resolve(
                status_info, table=STATUS_INFO, refinements=TEXT_REFINEMENTS, texts=[description]
            )
        return build_event(
            tracking_number=tracking_number,
            carrier_code=evt_no or status_info or "",
            carrier_reason_code=status_info if evt_no else None,
            mapping=mapping,
            occurred_at=parse_local(
                field(raw, "date", where=where),
                field(raw, "time", where=where),
                day_format="%Y-%m-%d",
                clock_format="%H:%M:%S",
                zone=zone_for(country, default=self.default_zone),
                where=where,
            ),
            description=description,
            location=make_location(city=address.get("city"), country=country),
        )


def status_mapping(status: str, texts: Iterable[str | None]) -> CodeMapping | None:
    """A parcel status of the documented enum (`progressBar.statusInfo`, Track And Trace
    V1 `status`), narrowed on the event text."""
    return resolve(status, table=STATUS_INFO, refinements=TEXT_REFINEMENTS, texts=texts)


def shipit_mapping(code: str, texts: Iterable[str | None]) -> CodeMapping | None:
    """A ShipIT history `StatusCode`: a GLS event number (3 or 3.0), else a Track And
    Trace V1 event code."""
    number = f"{code}.0" if code.isdigit() else code
    mapping = resolve(number, table=EVENT_CODES, refinements=TEXT_REFINEMENTS, texts=texts)
    return mapping or track_trace_mapping(code, texts)


def _error_of(document: dict[str, Any]) -> str | None:
    """The error of a public track & trace answer (`lastError`, `exceptionText`), a Track
    And Trace V1 problem (`detail`, `title`) or an API gateway fault (`fault.faultstring`)."""
    fault = sub_object(document, "fault")
    for value in (
        document.get("lastError"),
        document.get("exceptionText"),
        document.get("detail"),
        document.get("title"),
        fault.get("faultstring"),
    ):
        message = optional_text(value)
        if message:
            return message
    return None
