"""Chronopost: the tracking web service `trackSkybillV2` (TrackingServiceWS), in its JSON
form, and the same event list pushed by webhook.

Accepted shapes: `{"trackSkybillV2Response": {"return": R}}`, `{"return": R}`, `R`, or
the bare `{"skybillNumber", "events"}` list, where R is
`{errorCode, errorMessage?, listEventInfoComp: {skybillNumber, events: [...]}}` and each
event is `{code, eventDate (ISO with offset), eventLabel, highPriority, NPC, officeLabel,
zipCode, infoCompList}`. A non-zero `errorCode` is a payload error.
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
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError

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
        listing = _listing(as_object(load_json(payload, carrier=self.carrier), where="payload"))
        tracking_number = text(
            field(listing, "skybillNumber", where="listEventInfoComp"), where="skybillNumber"
        )
        raw_events = as_list(
            field(listing, "events", where="listEventInfoComp"), where="listEventInfoComp.events"
        )
        return oldest_first(
            self._event(raw, tracking_number=tracking_number, where=f"events[{index}]")
            for index, raw in enumerate(raw_events)
        )

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


def _listing(document: dict[str, Any]) -> dict[str, Any]:
    if "trackSkybillV2Response" in document:
        document = as_object(document["trackSkybillV2Response"], where="trackSkybillV2Response")
    if "return" in document:
        document = as_object(document["return"], where="return")
    error_code = document.get("errorCode")
    if error_code not in (None, 0, "0"):
        message = optional_text(document.get("errorMessage")) or "no message"
        raise PayloadError(f"Chronopost answered with errorCode {error_code}: {message}")
    if "listEventInfoComp" in document:
        return as_object(document["listEventInfoComp"], where="listEventInfoComp")
    if "events" in document:
        return document
    raise PayloadError("payload: no listEventInfoComp nor events list")
