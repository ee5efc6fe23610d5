"""FedEx: the Track API (POST https://apis.fedex.com/track/v1/trackingnumbers) and the
same track results pushed by the Advanced Integrated Visibility webhook (fedex_webhook:
an envelope with `outputMetaData` beside `output`).

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
from relais_tracker.adapters.carriers.fedex_webhook import is_webhook, webhook_outputs

_READY: Final = (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)
_OFD: Final = (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None)
_IN_TRANSIT: Final = (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None)

# Source: FedEx Track API, "Tracking Status Codes" appendix
# (https://developer.fedex.com/api/en-us/catalog/track/v1/docs.html, as vendored in karrio
# modules/connectors/fedex/vendor/Tracking-Status-Codes.html): the `eventType` of a scan
# and the `derivedStatusCode` FedEx derives from it. Karrio (units.py TrackingStatus)
# groups a subset of these; DE and SE are refined below instead of one "delivery_failed".
# DR is "Vehicle furnished but not used" in that appendix (not a drop-off); HP "Ready for
# Recipient Pickup" is the hold-at-location pickup notice.
CODES: Final[dict[str, CodeMapping]] = {
    "OC": (S.INFO_RECEIVED, B.LABEL_CREATED, None),  # Order created / shipment information
    "OX": (S.INFO_RECEIVED, B.LABEL_CREATED, None),  # Shipment information sent to USPS
    "AP": (S.INFO_RECEIVED, B.PICKUP_SCHEDULED, None),  # At pickup
    "EP": (S.INFO_RECEIVED, B.PICKUP_SCHEDULED, None),  # Enroute to pickup
    "PU": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Picked up
    "PX": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Picked up (see details)
    "OF": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At FedEx origin facility
    "AR": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # Arrived at FedEx location
    "AF": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At local FedEx facility
    "FD": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At FedEx destination facility
    "SF": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At sort facility
    "AC": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At Canada Post facility
    "AX": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # At USPS facility
    "DP": (S.IN_TRANSIT, B.DEPARTED_FACILITY, None),  # Departed
    "LO": (S.IN_TRANSIT, B.DEPARTED_FACILITY, None),  # Left origin
    "IT": _IN_TRANSIT,  # In transit
    "IX": _IN_TRANSIT,  # In transit (see details)
    "Ow": _IN_TRANSIT,  # On the way
    "AA": _IN_TRANSIT,  # At airport
    "EA": _IN_TRANSIT,  # Enroute to airport (also "Export approved")
    "EO": _IN_TRANSIT,  # Enroute to origin airport
    "PF": _IN_TRANSIT,  # Plane in flight
    "PL": _IN_TRANSIT,  # Plane landed
    "TR": _IN_TRANSIT,  # Transfer
    "PM": _IN_TRANSIT,  # In progress
    "DS": _IN_TRANSIT,  # Vehicle dispatched
    "DR": _IN_TRANSIT,  # Vehicle furnished but not used
    "SP": _IN_TRANSIT,  # Split status
    "AO": _IN_TRANSIT,  # Shipment arriving on-time
    "CP": (S.IN_TRANSIT, B.CUSTOMS_CLEARANCE_STARTED, None),  # Clearance in progress
    "CC": (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None),  # Cleared customs
    "CH": (S.IN_TRANSIT, B.REDIRECTED, None),  # Location changed
    "RR": (S.IN_TRANSIT, B.DELIVERY_RESCHEDULED, None),  # CDO requested
    "RM": (S.IN_TRANSIT, B.DELIVERY_RESCHEDULED, None),  # CDO modified
    "RC": _IN_TRANSIT,  # CDO cancelled
    "OD": _OFD,  # Out for delivery
    "ED": _OFD,  # Enroute to delivery
    "AD": _OFD,  # At delivery
    "HL": _READY,  # Hold at location
    "HP": _READY,  # Ready for recipient pickup
    "DL": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),  # Delivered
    "DE": (S.FAILED_ATTEMPT, B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),  # Delivery exception
    "SE": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),  # Shipment exception
    "CD": (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY),  # Clearance delay
    "DY": (S.EXCEPTION, B.DELAYED, R.UNKNOWN),  # Delay
    "DD": (S.EXCEPTION, B.DELAYED, R.UNKNOWN),  # Delivery delay
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

# FedEx's standard English descriptions, folded; the first keyword found wins. A
# hold-at-location scan can arrive as an arrival or in-transit scan whose description
# says the package is ready for pickup.
TEXT_REFINEMENTS: Final[Refinements] = {
    "AR": (
        ("ready for recipient pickup", _READY),
        ("ready for pickup", _READY),
        ("available for pickup", _READY),
    ),
    "IT": (
        ("ready for recipient pickup", _READY),
        ("ready for pickup", _READY),
        ("on fedex vehicle for delivery", _OFD),
    ),
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
        document = load_json(payload, carrier=self.carrier)
        if is_webhook(document):
            outputs = webhook_outputs(document)
        else:
            document = as_object(document, where="payload")
            if "output" not in document:
                raise PayloadError(_error_of(document.get("errors")) or "payload: no output")
            outputs = [as_object(document["output"], where="output")]
        events: list[NormalizedEvent] = []
        errors: list[str] = []
        for output in outputs:
            complete = as_list(
                field(output, "completeTrackResults", where="output"), where="completeTrackResults"
            )
            for c_index, item in enumerate(complete):
                events.extend(
                    self._complete(item, errors=errors, where=f"completeTrackResults[{c_index}]")
                )
        if errors and not events:
            raise PayloadError(errors[0])
        return oldest_first(events)

    def _complete(self, value: Any, *, errors: list[str], where: str) -> list[NormalizedEvent]:
        """The events of one complete track result; its results' errors go to `errors`."""
        item = as_object(value, where=where)
        results = as_list(field(item, "trackResults", where=where), where=where)
        events: list[NormalizedEvent] = []
        for r_index, result in enumerate(results):
            result_where = f"{where}.trackResults[{r_index}]"
            raw = as_object(result, where=result_where)
            if isinstance(raw.get("error"), dict):
                errors.append(_error_of([raw["error"]]) or "error")
                continue
            events.extend(self._result(raw, number=item.get("trackingNumber"), where=result_where))
        return events

    def _result(self, result: dict[str, Any], *, number: Any, where: str) -> list[NormalizedEvent]:
        """`number` (the complete result's trackingNumber) stands in for a missing
        trackingNumberInfo."""
        info = sub_object(result, "trackingNumberInfo")
        tracking_number = text(
            info.get("trackingNumber") or number, where=f"{where}.trackingNumberInfo.trackingNumber"
        )
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
        mapping = _mapping(
            code,
            exception_code,
            optional_text(raw.get("derivedStatusCode")),
            texts=[detail, description],
        )
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


def _mapping(
    code: str, exception_code: str | None, derived: str | None, *, texts: list[str | None]
) -> CodeMapping | None:
    """The scan's exception code, else its event type narrowed on the text; an unknown event
    type falls back to FedEx's `derivedStatusCode` when that says more than in transit."""
    if code in CODES:
        return EXCEPTION_CODES.get(f"{code}:{exception_code}") or resolve(
            code, table=CODES, refinements=TEXT_REFINEMENTS, texts=texts
        )
    fallback = resolve(derived or "", table=CODES, refinements=TEXT_REFINEMENTS, texts=texts)
    return fallback if fallback not in (None, _IN_TRANSIT) else None


def _error_of(errors: Any) -> str | None:
    items = errors if isinstance(errors, list) else []
    for item in items:
        if isinstance(item, dict):
            return (
                f"FedEx answered with an error: {item.get('code', '?')}: {item.get('message', '')}"
            )
    return None
