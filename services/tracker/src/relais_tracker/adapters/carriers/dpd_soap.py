"""DPD: the SOAP web service ParcelLifeCycleService 2.0, operation `getTrackingData`.

Answer (ParcelLifecycleServiceV20.xsd, namespace
`http://dpd.com/common/service/types/ParcelLifeCycleService/2.0`, as kept in karrio
`modules/connectors/dpd/schemas/`; sample answers in DPD Netherlands' "Parcellifecycle
Service" page, integrations.dpd.nl/dpd-shipper, and karrio
`modules/connectors/dpd/tests/dpd/test_tracking.py`):
`getTrackingDataResponse/trackingresult` {`shipmentInfo`, `statusInfo`* {`status`,
`label`/content, `description`/content*/content, `statusHasBeenReached`,
`isCurrentStatus`, `location`/content ("Mechelen (BE)"), `date`/content,
`importantItems`*, `errorItems`*}}. Each reached `statusInfo` with a date is one
event; a status not reached yet (DPD lists the coming milestones too) or without a
date is no event. A SOAP Fault (an `authenticationFault` in its detail) is a
PayloadError with the fault string.

The answer does not repeat the parcel number: the caller (the poller that sent
`getTrackingData/parcelLabelNumber`) adds that `parcelLabelNumber` element anywhere in
the envelope (SOAP Header or `trackingresult`).

Dates are local and zone-less, formatted after the request's `messageLanguage`
(`8/17/2021 7:11:26 PM` for en, `17.08.2021, 19:11` for de, `01/06/2012, 02:09`):
read in the zone of the status's country, else Europe/Paris (DPD France).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import TrackingStatus as S
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    Refinements,
    build_event,
    make_location,
    oldest_first,
    resolve,
    zone_for,
)
from relais_tracker.adapters.carriers._xml import (
    child,
    child_text,
    children,
    descendant,
    parse_xml,
    raise_soap_fault,
    required,
    text_of,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError

CARRIER: Final = "dpd"

_FAILED_ATTEMPT: Final[CodeMapping] = (S.FAILED_ATTEMPT, B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN)

# Source: DPD ParcelLifeCycleService 2.0, StatusInfo.status. Two vocabularies are in
# use: (1) the milestone enumeration of the service's WSDL (SHIPMENT, ACCEPTED,
# AT_SENDING_DEPOT, ON_THE_ROAD, AT_DELIVERY_DEPOT, DELIVERED: DPD Germany/Austria,
# one statusInfo per milestone, the coming ones not reached); (2) the event statuses of
# DPD Benelux/UK (DPD Netherlands' sample answer, "Delivered", "Courier"; karrio's
# replayed DPD Belgium answer: PickedUp, BetweenDepots, Depot, Courier, ParcelShop,
# DeliveryFailure, ReturningFromDelivery, with their English descriptions quoted
# below). Karrio's own table (units.py TrackingStatus) maps ReturningFromDelivery to
# out_for_delivery; DPD's description says the attempt failed, and so does this table.
STATUSES: Final[dict[str, CodeMapping]] = {
    "SHIPMENT": (S.INFO_RECEIVED, B.INFO_RECEIVED_UNSPECIFIED, None),
    "ACCEPTED": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),
    "AT_SENDING_DEPOT": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),
    "ON_THE_ROAD": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),
    "AT_DELIVERY_DEPOT": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),
    "DELIVERED": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "PickedUp": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # DPD has received your parcel.
    "BetweenDepots": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # at the dispatch centre
    "Depot": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At parcel delivery centre.
    "Courier": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),  # on its way to you
    "ParcelShop": (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None),  # driver to parcelshop
    "Delivered": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "DeliveryFailure": _FAILED_ATTEMPT,  # we have not been able to deliver your parcel.
    "ReturningFromDelivery": _FAILED_ATTEMPT,  # unsuccessful attempt, back at the depot
}

_FAILURE_REASONS: Final = (
    ("not at home", (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)),
    ("absent", (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)),
    ("niet thuis", (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)),
    ("nicht angetroffen", (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)),
    ("closed", (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)),
    ("ferme", (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)),
    ("gesloten", (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)),
    ("geschlossen", (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)),
    ("no access", (S.FAILED_ATTEMPT, B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)),
    ("refused", (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
    ("refus", (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
    ("geweigerd", (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
    ("verweigert", (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
    ("incomplete address", (S.EXCEPTION, B.INCOMPLETE_ADDRESS, R.RECIPIENT_INCOMPLETE_ADDRESS)),
    ("address", (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
    ("adresse", (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
    ("adres", (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
    ("damaged", (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
)
_DELIVERED_AS: Final = (
    ("damaged", (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
    ("collected", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
    ("picked up by", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
    ("abgeholt", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
    ("opgehaald", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
    ("to pickup parcelshop", (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)),
    ("to the pickup parcelshop", (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)),
    ("im pickup paketshop", (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)),
    ("neighbour", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
    ("nachbar", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
    ("buren", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
    ("voisin", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
    ("safe place", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
    ("abstellort", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
    ("letterbox", (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)),
    ("briefkasten", (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)),
)
_OUT_FOR_DELIVERY: Final = (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None)
_AT_PARCELSHOP: Final = (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)

# DPD's standard descriptions (en / de / nl / fr), folded; the first keyword found wins.
TEXT_REFINEMENTS: Final[Refinements] = {
    "DELIVERED": _DELIVERED_AS,
    "Delivered": _DELIVERED_AS,
    "DeliveryFailure": _FAILURE_REASONS,
    "ReturningFromDelivery": _FAILURE_REASONS,
    "AT_DELIVERY_DEPOT": (
        ("out for delivery", _OUT_FOR_DELIVERY),
        ("on its way to the consignee", _OUT_FOR_DELIVERY),
        ("in zustellung", _OUT_FOR_DELIVERY),
        ("pickup parcelshop", _AT_PARCELSHOP),
        ("paketshop", _AT_PARCELSHOP),
    ),
    "ParcelShop": (
        ("collected", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("picked up by", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("opgehaald", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
    ),
}

DATE_FORMATS: Final = (
    "%m/%d/%Y %I:%M:%S %p",  # en: 8/17/2021 7:11:26 PM
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y, %H:%M",  # de: 17.08.2021, 19:11
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y, %H:%M",  # 01/06/2012, 02:09
    "%d-%m-%Y %H:%M:%S",
)

_PLACE: Final = re.compile(r"^\s*(?P<city>.*?)\s*\((?P<country>[A-Za-z]{2})\)\s*$")


def parse_tracking_data(payload: bytes, *, default_zone: ZoneInfo) -> list[NormalizedEvent]:
    """Every reached status of a `getTrackingData` answer, oldest first."""
    root = parse_xml(payload, carrier=CARRIER)
    raise_soap_fault(root, carrier=CARRIER)
    result = required(root, "trackingresult", carrier=CARRIER)
    tracking_number = text_of(descendant(root, "parcelLabelNumber"))
    if tracking_number is None:
        raise PayloadError(
            "dpd: the getTrackingData answer does not repeat the parcel number: add the "
            "request's parcelLabelNumber element to it"
        )
    return oldest_first(
        _event(info, tracking_number=tracking_number, default_zone=default_zone)
        for info in children(result, "statusInfo")
        if _reached(info)
    )


def _reached(info: Element) -> bool:
    reached = (child_text(info, "statusHasBeenReached") or "true").lower() in ("true", "1")
    return reached and _content(child(info, "date")) is not None


def _event(info: Element, *, tracking_number: str, default_zone: ZoneInfo) -> NormalizedEvent:
    status = child_text(info, "status")
    if status is None:
        raise PayloadError("dpd: statusInfo without status")
    description = " ".join(_contents(child(info, "description"))) or _content(child(info, "label"))
    notes = [
        line
        for name in ("importantItems", "errorItems")
        for item in children(info, name)
        for line in _contents(item)
    ]
    city, country = _place(_content(child(info, "location")))
    return build_event(
        tracking_number=tracking_number,
        carrier_code=status,
        mapping=resolve(
            status, table=STATUSES, refinements=TEXT_REFINEMENTS, texts=[description, *notes]
        ),
        occurred_at=_parse_date(
            _content(child(info, "date")), zone=zone_for(country, default=default_zone)
        ),
        description=" ".join(part for part in (description, *notes) if part),
        location=make_location(city=city, country=country),
    )


def _content(line: Element | None) -> str | None:
    """The text of a ContentLine (`<x><content>text</content><bold/>...</x>`)."""
    return child_text(line, "content") if line is not None else None


def _contents(item: Element | None) -> list[str]:
    """The lines of a ContentItem (`<x><label/>?<content><content>text</content>...`)."""
    if item is None:
        return []
    lines = [_content(line) for line in children(item, "content")]
    return [line for line in lines if line]


def _place(value: str | None) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    match = _PLACE.match(value)
    return (match.group("city"), match.group("country").upper()) if match else (value, None)


def _parse_date(value: str | None, *, zone: ZoneInfo) -> datetime:
    if value is None:  # excluded by _reached
        raise PayloadError("dpd: statusInfo without date")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    except ValueError:
        pass
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=zone)
        except ValueError:
            continue
    raise PayloadError(f"dpd: statusInfo date {value!r} is in no known DPD format")
