"""DHL: the Shipment Tracking - Unified API (GET https://api-eu.dhl.com/track/shipments)
and its push version (Shipment Tracking - Unified - Push, dhl_push), which POSTs the same
`shipments` list with a `scope`.

Shape: `{shipments: [{id, destination: {address: {countryCode}}, estimatedTimeOfDelivery?,
estimatedDeliveryTimeFrame?: {estimatedFrom, estimatedThrough}, status: E, events: [E]}]}`
with E = `{timestamp, location: {address: {countryCode, postalCode, addressLocality}},
statusCode, status, description, remark}`, `status` being the latest event (the one
event of a shipment without `events`); an error is `{title, status, detail}` (RFC 7807).
`statusCode` has five documented values; the detail is in `description`/`status`, in
DHL's standard English wording (the API's `language=en`), so `TEXT_REFINEMENTS`
narrows each status code on it. Event timestamps are often local and zone-less: they
are read in the zone of the event's country, else the destination's, else Berlin.
"""

from __future__ import annotations

from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import DeliveryEstimate
from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import TrackingStatus as S
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    Refinements,
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
    text,
    with_estimate_on_newest,
    zone_for,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError
from relais_tracker.adapters.carriers.dhl_push import is_subscription_message

# Source: DHL Shipment Tracking - Unified API reference, `statusCode` enum
# (https://developer.dhl.com/api-reference/shipment-tracking). Karrio
# (modules/connectors/dhl_universal/karrio/providers/dhl_universal/units.py) maps
# "unknown" to delivery_delayed; DHL documents it as "status not known", so it is the
# safe default here, and "failure" is refined on the event text instead of being one
# undifferentiated failed delivery.
CODES: Final[dict[str, CodeMapping]] = {
    "pre-transit": (S.INFO_RECEIVED, B.LABEL_CREATED, None),
    "transit": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),
    "delivered": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "failure": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
    "unknown": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),
}

_ABSENT: Final = (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)
_NOT_AVAILABLE: Final = (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)
_ATTEMPTED: Final = (S.FAILED_ATTEMPT, B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN)
_CLOSED: Final = (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)
_READY: Final = (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)
_OFD: Final = (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None)
_RETURNING: Final = (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN)

# DHL's standard English event descriptions, folded; the first keyword found wins. DHL
# reports out-for-delivery, failed attempts and pickup points under `transit` (DHL
# Express: "Shipment is out with courier for delivery", "With delivery courier"; DHL
# Parcel: "The shipment has been loaded onto the delivery vehicle", "The shipment is
# ready for pick-up at the PACKSTATION"), so those words come before the hub wording.
TEXT_REFINEMENTS: Final[Refinements] = {
    "transit": (
        ("out for delivery", _OFD),
        ("out with courier", _OFD),
        ("with courier for delivery", _OFD),
        ("with delivery courier", _OFD),
        ("loaded onto the delivery vehicle", _OFD),
        ("on the delivery vehicle", _OFD),
        ("not at home", _ABSENT),
        ("recipient not home", _ABSENT),
        ("not available or business closed", _NOT_AVAILABLE),
        ("business closed", _CLOSED),
        ("could not be delivered", _ATTEMPTED),
        ("delivery attempted", _ATTEMPTED),
        ("ready for pick", _READY),
        ("available for pick", _READY),
        ("awaiting collection", _READY),
        ("packstation", _READY),
        ("parcel locker", _READY),
        ("parcel shop", _READY),
        ("servicepoint", _READY),
        ("service point", _READY),
        ("returned to the sender", _RETURNING),
        ("return to shipper", _RETURNING),
        ("returned to shipper", _RETURNING),
        ("being returned", _RETURNING),
        ("damaged", (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
        ("customs clearance status updated", (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None)),
        ("clearance processing complete", (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None)),
        ("customs", (S.IN_TRANSIT, B.CUSTOMS_CLEARANCE_STARTED, None)),
        ("arrived at dhl", (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None)),
        ("arrived at the", (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None)),
        ("departed", (S.IN_TRANSIT, B.DEPARTED_FACILITY, None)),
        ("processed", (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None)),
        ("picked up", (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None)),
        ("delivery rescheduled", (S.IN_TRANSIT, B.DELIVERY_RESCHEDULED, None)),
        ("forwarded", (S.IN_TRANSIT, B.REDIRECTED, None)),
    ),
    "delivered": (
        ("damaged", (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
        ("neighbour", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
        ("neighbor", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
        ("picked up", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("collected", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
        ("delivered to the packstation", _READY),
        ("delivered to the parcel locker", _READY),
        ("delivered to the retail outlet", _READY),
        ("preferred location", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
        ("drop-off location", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
        ("letterbox", (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)),
        ("mailbox", (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)),
        ("reception", (S.DELIVERED, B.DELIVERED_TO_RECEPTION, None)),
        ("signed for", (S.DELIVERED, B.SIGNED_FOR, None)),
    ),
    "failure": (
        ("refused", (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
        ("moved", (S.EXCEPTION, B.CUSTOMER_MOVED, R.RECIPIENT_MOVED)),
        ("address incomplete", (S.EXCEPTION, B.INCOMPLETE_ADDRESS, R.RECIPIENT_INCOMPLETE_ADDRESS)),
        ("incomplete address", (S.EXCEPTION, B.INCOMPLETE_ADDRESS, R.RECIPIENT_INCOMPLETE_ADDRESS)),
        ("address", (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("damaged", (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
        ("lost", (S.EXCEPTION, B.LOST, R.CARRIER_PARCEL_LOST)),
        ("not collected", (S.EXCEPTION, B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED)),
        ("returned to the sender", _RETURNING),
        ("return to shipper", _RETURNING),
        ("duties", (S.EXCEPTION, B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID)),
        ("customs", (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY)),
        ("weather", (S.EXCEPTION, B.DELAYED_WEATHER, R.WEATHER_DELAY)),
        ("not available or business closed", _NOT_AVAILABLE),
        ("business closed", _CLOSED),
        ("not at home", _ABSENT),
        ("not home", _ABSENT),
        ("not available", _NOT_AVAILABLE),
        ("could not be delivered", _ATTEMPTED),
        ("delivery attempted", _ATTEMPTED),
    ),
}


class DhlAdapter:
    carrier = "dhl"
    default_zone = ZoneInfo("Europe/Berlin")

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        if is_subscription_message(document):
            return []
        if "shipments" not in document:
            detail = optional_text(document.get("detail")) or optional_text(document.get("title"))
            raise PayloadError(
                f"DHL answered with an error: {detail}" if detail else "payload: no shipments list"
            )
        shipments = as_list(document["shipments"], where="shipments")
        events: list[NormalizedEvent] = []
        for index, shipment in enumerate(shipments):
            events.extend(self._shipment(shipment, where=f"shipments[{index}]"))
        return oldest_first(events)

    def _shipment(self, value: Any, *, where: str) -> list[NormalizedEvent]:
        shipment = as_object(value, where=where)
        tracking_number = text(field(shipment, "id", where=where), where=f"{where}.id")
        destination = _address(shipment.get("destination")).get("countryCode")
        fallback = zone_for(optional_text(destination), default=self.default_zone)
        raw_events = as_list(shipment.get("events") or [], where=f"{where}.events")
        if not raw_events and isinstance(shipment.get("status"), dict):
            raw_events = [shipment["status"]]  # a push (or a poll without events): the latest
        events = oldest_first(
            reversed(
                [
                    self._event(
                        raw,
                        tracking_number=tracking_number,
                        fallback=fallback,
                        where=f"{where}.events[{i}]",
                    )
                    for i, raw in enumerate(raw_events)
                ]
            )
        )
        return with_estimate_on_newest(events, _estimate(shipment, zone=fallback, where=where))

    def _event(
        self, value: Any, *, tracking_number: str, fallback: ZoneInfo, where: str
    ) -> NormalizedEvent:
        raw = as_object(value, where=where)
        address = _address(raw.get("location"))
        country = optional_text(address.get("countryCode"))
        code = optional_text(raw.get("statusCode")) or "unknown"
        description = optional_text(raw.get("description")) or optional_text(raw.get("status"))
        return build_event(
            tracking_number=tracking_number,
            carrier_code=code,
            mapping=resolve(
                code,
                table=CODES,
                refinements=TEXT_REFINEMENTS,
                texts=[description, optional_text(raw.get("status"))],
            ),
            occurred_at=parse_instant(
                field(raw, "timestamp", where=where),
                zone=zone_for(country, default=fallback),
                where=f"{where}.timestamp",
            ),
            description=description,
            location=make_location(
                city=address.get("addressLocality"),
                postal_code=address.get("postalCode"),
                country=country,
            ),
        )


def _address(place: Any) -> dict[str, Any]:
    if isinstance(place, dict) and isinstance(place.get("address"), dict):
        address: dict[str, Any] = place["address"]
        return address
    return {}


def _estimate(shipment: dict[str, Any], *, zone: ZoneInfo, where: str) -> DeliveryEstimate | None:
    frame = shipment.get("estimatedDeliveryTimeFrame")
    start = end = None
    if isinstance(frame, dict) and frame.get("estimatedFrom") and frame.get("estimatedThrough"):
        start = parse_instant(frame["estimatedFrom"], zone=zone, where=f"{where}.estimatedFrom")
        end = parse_instant(frame["estimatedThrough"], zone=zone, where=f"{where}.estimatedThrough")
    moment = shipment.get("estimatedTimeOfDelivery")
    if moment:
        day = parse_instant(moment, zone=zone, where=f"{where}.estimatedTimeOfDelivery")
    elif start is not None:
        day = start
    else:
        return None
    return estimate(day=day.astimezone(zone).date(), start=start, end=end)
