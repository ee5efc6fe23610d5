"""Chronopost: the tracking web service TrackingServiceWS (`trackSkybillV2` and its
siblings), as SOAP XML or in its JSON form, and the same event list pushed by webhook.

Accepted shapes: the SOAP answer of `trackSkybillV2`, `trackSkybill`, `trackESD` or
`trackWithSenderRef` (read by `chronopost_soap` into its JSON form); as JSON
`{"trackSkybillV2Response": {"return": R}}` (or another of those operations),
`{"return": R}`, `R`, or the bare `{"skybillNumber", "events"}` list, where R is
`{errorCode, errorMessage?, listEventInfoComp | listEvents: {skybillNumber, events:
[...]} | listParcel: [...]}` and each event is `{code, eventDate (ISO, offset or
not), eventLabel, highPriority, NPC, officeLabel, zipCode, infoCompList}`. A non-zero
`errorCode` is a payload error; a list without events has no events.
"""

from __future__ import annotations

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
    parse_instant,
    resolve,
    text,
)
from relais_tracker.adapters.carriers._xml import looks_like_xml
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError
from relais_tracker.adapters.carriers.chronopost_soap import RESPONSES, read_answer

# Source: Chronopost TrackingServiceWS trackSkybillV2 (https://www.chronopost.fr/en/
# business/web-services, "Tracking" documentation) with the codes and English labels
# of the replayed response in karrio modules/connectors/chronopost/tests/chronopost/
# test_tracking.py. Karrio's own Chronopost reason table (units.py
# TrackingIncidentReason: "DMG", "PERDU", "NOTHOME"...) lists words, not Chronopost
# codes, and is not used. Codes Chronopost documents beyond these go to the safe
# default until a documented meaning is added here.
CODES: Final[dict[str, CodeMapping]] = {
    "DC": (S.INFO_RECEIVED, B.LABEL_CREATED, None),  # Shipment in preparation to be shipped
    "DB": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Shipment handed over by shipper
    "DY": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Parcel registered by the post office
    "PC": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Pris en charge (collected)
    "SC": (S.IN_TRANSIT, B.DEPARTED_FACILITY, None),  # Sorted at departure location
    "TS": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # Shipment in transit
    "SD": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # Sorted at delivery location
    "TA": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),  # In delivery
    "D": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),  # Delivered
}

# Chronopost's delivery labels (fr_FR / en_GB), folded; the first keyword found wins.
LABEL_REFINEMENTS: Final[Refinements] = {
    "D": (
        ("retire", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("collected", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("picked up", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("relais pickup", (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)),
        ("pickup point", (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)),
        ("voisin", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
        ("neighbour", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
        ("boite aux lettres", (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)),
        ("letterbox", (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)),
        ("damaged", (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
        ("endommage", (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
    ),
}


class ChronopostAdapter:
    carrier = "chronopost"
    default_zone = ZoneInfo("Europe/Paris")

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = (
            read_answer(payload)
            if looks_like_xml(payload)
            else as_object(load_json(payload, carrier=self.carrier), where="payload")
        )
        return oldest_first(
            event for listing in _listings(document) for event in self._listing_events(listing)
        )

    def _listing_events(self, listing: dict[str, Any]) -> list[NormalizedEvent]:
        tracking_number = text(
            field(listing, "skybillNumber", where="listEventInfoComp"), where="skybillNumber"
        )
        raw_events = as_list(listing.get("events") or [], where="listEventInfoComp.events")
        return [
            self._event(raw, tracking_number=tracking_number, where=f"events[{index}]")
            for index, raw in enumerate(raw_events)
            if raw  # a nil or empty <events/> element
        ]

    def _event(self, value: Any, *, tracking_number: str, where: str) -> NormalizedEvent:
        raw = as_object(value, where=where)
        code = text(field(raw, "code", where=where), where=f"{where}.code")
        label = optional_text(raw.get("eventLabel"))
        return build_event(
            tracking_number=tracking_number,
            carrier_code=code,
            mapping=resolve(code, table=CODES, refinements=LABEL_REFINEMENTS, texts=[label]),
            occurred_at=parse_instant(
                field(raw, "eventDate", where=where),
                zone=self.default_zone,
                where=f"{where}.eventDate",
            ),
            description=label,
            location=make_location(facility=raw.get("officeLabel"), postal_code=raw.get("zipCode")),
        )


def _listings(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The event lists of the answer: one per parcel (several for trackWithSenderRef)."""
    result = _result(document)
    for key in ("listEventInfoComp", "listEvents"):
        if key in result:
            listing = result[key]
            return [as_object(listing, where=key)] if listing is not None else []
    if "listParcel" in result:
        parcels = as_list(result["listParcel"] or [], where="listParcel")
        return [as_object(item, where="listParcel[]") for item in parcels if item]
    if "events" in result:
        return [result]
    raise PayloadError("payload: no listEventInfoComp, listEvents, listParcel nor events list")


def _result(document: dict[str, Any]) -> dict[str, Any]:
    """The operation's `return`, unwrapped; PayloadError when Chronopost reports an error."""
    for name in RESPONSES:
        if name in document:
            document = as_object(document[name], where=name)
            break
    if "return" in document:
        document = as_object(document["return"], where="return")
    error_code = document.get("errorCode")
    if error_code not in (None, 0, "0"):
        message = optional_text(document.get("errorMessage")) or "no message"
        raise PayloadError(f"Chronopost answered with errorCode {error_code}: {message}")
    return document
