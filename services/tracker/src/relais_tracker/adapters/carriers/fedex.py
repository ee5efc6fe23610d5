"""FedEx: the Track API (POST https://apis.fedex.com/track/v1/trackingnumbers).

Shape: `{output: {completeTrackResults: [{trackingNumber, trackResults: [{
trackingNumberInfo: {trackingNumber}, error?, estimatedDeliveryTimeWindow?: {window:
{begins, ends}}, dateAndTimes?: [{type, dateTime}], scanEvents: [{date (ISO with
offset), eventType, eventDescription, exceptionCode, exceptionDescription,
scanLocation: {city, postalCode, countryCode}, derivedStatusCode}]}]}]}}`; an error is
`{errors: [{code, message}]}`. The `eventType` is the key; for delivery and shipment
exceptions (DE, SE) the documented `exceptionCode` says why, and the standard English
`exceptionDescription`/`eventDescription` narrows the rest.
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
    sub_object,
    text,
    with_estimate_on_newest,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError

# Source: FedEx Track API, "Tracking event types" appendix
# (https://developer.fedex.com/api/en-us/catalog/track/v1/docs.html). Karrio
# (modules/connectors/fedex/karrio/providers/fedex/units.py TrackingStatus) groups a
# subset of these; DE and SE are refined below instead of one "delivery_failed".
CODES: Final[dict[str, CodeMapping]] = {
    "OC": (S.INFO_RECEIVED, B.LABEL_CREATED, None),  # Shipment information sent to FedEx
    "PU": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Picked up
    "PX": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Picked up (see details)
    "DR": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Dropped off at a FedEx location
    "AP": (S.INFO_RECEIVED, B.PICKUP_SCHEDULED, None),  # At pickup
    "EP": (S.INFO_RECEIVED, B.PICKUP_SCHEDULED, None),  # Enroute to pickup
    "OF": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At FedEx origin facility
    "AR": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # Arrived at FedEx location
    "AF": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At local FedEx facility
    "FD": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At FedEx destination facility
    "SF": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At sort facility
    "AC": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At Canada Post facility
    "DP": (S.IN_TRANSIT, B.DEPARTED_FACILITY, None),  # Departed FedEx location
    "LO": (S.IN_TRANSIT, B.DEPARTED_FACILITY, None),  # Left FedEx origin location
    "IT": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # In transit
    "AA": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # At airport
    "EA": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # Enroute to airport
    "EO": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # Enroute to origin airport
    "TR": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # Transfer
    "PM": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # In progress
    "DS": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # Vehicle dispatched
    "CP": (S.IN_TRANSIT, B.CUSTOMS_CLEARANCE_STARTED, None),  # Clearance in progress
    "CC": (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None),  # Cleared customs
    "CH": (S.IN_TRANSIT, B.REDIRECTED, None),  # Location changed
    "RR": (S.IN_TRANSIT, B.DELIVERY_RESCHEDULED, None),  # Delivery option requested
    "OD": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),  # On vehicle for delivery
    "HL": (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None),  # Hold at location
    "DL": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),  # Delivered
    "DE": (S.FAILED_ATTEMPT, B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),  # Delivery exception
    "SE": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),  # Shipment exception
    "CD": (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY),  # Clearance delay
    "DY": (S.EXCEPTION, B.DELAYED, R.UNKNOWN),  # Delay
    "PD": (S.EXCEPTION, B.DELAYED, R.UNKNOWN),  # Pickup delay
    "RS": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN),  # Return to shipper
    "CA": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),  # Shipment cancelled
}

# Source: FedEx delivery exception codes (DEX/SEX), as carried in `exceptionCode` of DE
# and SE scans (FedEx Track API docs, "Exception codes"); looked up as "<eventType>:<code>".
EXCEPTION_CODES: Final[dict[str, CodeMapping]] = {
    "DE:03": (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS),
    "DE:07": (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED),
    "DE:08": (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE),
    "DE:17": (S.IN_TRANSIT, B.DELIVERY_RESCHEDULED, None),
    "SE:03": (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS),
    "SE:07": (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED),
}

# FedEx's standard English descriptions, folded; the first keyword found wins.
TEXT_REFINEMENTS: Final[Refinements] = {
    "DL": (
        ("damage", (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
        ("neighbor", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
        ("front door", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
        ("back door", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
        ("garage", (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)),
        ("mailbox", (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)),
        ("receptionist", (S.DELIVERED, B.DELIVERED_TO_RECEPTION, None)),
        ("front desk", (S.DELIVERED, B.DELIVERED_TO_RECEPTION, None)),
        ("picked up", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
    ),
    "DE": (
        ("business closed", (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)),
        ("not available", (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)),
        ("access", (S.FAILED_ATTEMPT, B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)),
        ("moved", (S.EXCEPTION, B.CUSTOMER_MOVED, R.RECIPIENT_MOVED)),
        ("address", (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("refused", (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
        ("damage", (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
    ),
    "SE": (
        ("damage", (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
        ("weather", (S.EXCEPTION, B.DELAYED_WEATHER, R.WEATHER_DELAY)),
        ("duties", (S.EXCEPTION, B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID)),
        ("customs", (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY)),
        ("address", (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("return", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN)),
        ("lost", (S.EXCEPTION, B.LOST, R.CARRIER_PARCEL_LOST)),
    ),
    "DY": (
        ("weather", (S.EXCEPTION, B.DELAYED_WEATHER, R.WEATHER_DELAY)),
        ("flight", (S.EXCEPTION, B.DELAYED_PROCESSING, R.CARRIER_TRANSPORT_DELAY)),
    ),
}


class FedexAdapter:
    carrier = "fedex"
    default_zone = ZoneInfo("America/Chicago")

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        if "output" not in document:
            raise PayloadError(_error_of(document.get("errors")) or "payload: no output")
        output = as_object(document["output"], where="output")
        complete = as_list(
            field(output, "completeTrackResults", where="output"), where="completeTrackResults"
        )
        events: list[NormalizedEvent] = []
        errors: list[str] = []
        for c_index, item in enumerate(complete):
            where = f"completeTrackResults[{c_index}]"
            results = as_list(
                field(as_object(item, where=where), "trackResults", where=where), where=where
            )
            for r_index, result in enumerate(results):
                result_where = f"{where}.trackResults[{r_index}]"
                raw = as_object(result, where=result_where)
                if isinstance(raw.get("error"), dict):
                    errors.append(_error_of([raw["error"]]) or "error")
                    continue
                events.extend(self._result(raw, where=result_where))
        if errors and not events:
            raise PayloadError(errors[0])
        return events

    def _result(self, result: dict[str, Any], *, where: str) -> list[NormalizedEvent]:
        info = as_object(field(result, "trackingNumberInfo", where=where), where=where)
        tracking_number = text(field(info, "trackingNumber", where=where), where=where)
        scans = as_list(result.get("scanEvents") or [], where=f"{where}.scanEvents")
        events = oldest_first(
            reversed(
                [
                    self._event(
                        raw, tracking_number=tracking_number, where=f"{where}.scanEvents[{i}]"
                    )
                    for i, raw in enumerate(scans)
                ]
            )
        )
        return with_estimate_on_newest(events, self._estimate(result, where=where))

    def _event(self, value: Any, *, tracking_number: str, where: str) -> NormalizedEvent:
        raw = as_object(value, where=where)
        code = text(field(raw, "eventType", where=where), where=f"{where}.eventType")
        exception_code = optional_text(raw.get("exceptionCode"))
        description = optional_text(raw.get("eventDescription"))
        detail = optional_text(raw.get("exceptionDescription"))
        mapping = (
            EXCEPTION_CODES.get(f"{code}:{exception_code}") if code in CODES else None
        ) or resolve(code, table=CODES, refinements=TEXT_REFINEMENTS, texts=[detail, description])
        location = sub_object(raw, "scanLocation")
        return build_event(
            tracking_number=tracking_number,
            carrier_code=code,
            carrier_reason_code=exception_code,
            mapping=mapping,
            occurred_at=parse_instant(
                field(raw, "date", where=where), zone=self.default_zone, where=f"{where}.date"
            ),
            description=" - ".join(part for part in (description, detail) if part),
            location=make_location(
                city=location.get("city"),
                postal_code=location.get("postalCode"),
                country=location.get("countryCode"),
            ),
        )

    def _estimate(self, result: dict[str, Any], *, where: str) -> DeliveryEstimate | None:
        window = sub_object(sub_object(result, "estimatedDeliveryTimeWindow"), "window")
        begins, ends = window.get("begins"), window.get("ends")
        start = parse_instant(begins, zone=self.default_zone, where=where) if begins else None
        end = parse_instant(ends, zone=self.default_zone, where=where) if ends else None
        estimated = next(
            (
                item.get("dateTime")
                for item in result.get("dateAndTimes") or []
                if isinstance(item, dict) and item.get("type") == "ESTIMATED_DELIVERY"
            ),
            None,
        )
        anchor = (
            parse_instant(estimated, zone=self.default_zone, where=where) if estimated else start
        )
        if anchor is None:
            return None
        return estimate(day=anchor.date(), start=start, end=end)


def _error_of(errors: Any) -> str | None:
    items = errors if isinstance(errors, list) else []
    for item in items:
        if isinstance(item, dict):
            return (
                f"FedEx answered with an error: {item.get('code', '?')}: {item.get('message', '')}"
            )
    return None
