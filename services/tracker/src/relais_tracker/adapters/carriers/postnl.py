"""PostNL: the Shippingstatus API v2 (GET https://api.postnl.nl/shipment/v2/status/...).

Three answers are read:
- `{CompleteStatus: {Shipment}}` (/barcode/{barcode}?detail=true): `Shipment` (one
  object or a list) has `MainBarcode`, `Barcode`, `Event` (`{Code, Description,
  TimeStamp, LocationCode, RouteName}`, newest first), `OldStatus` (`{StatusCode,
  StatusDescription, PhaseCode, PhaseDescription, TimeStamp}`), `Status` (the current
  one), `Expectation: {ETAFrom, ETATo}` and `DeliveryDate`;
- `{CurrentStatus: {Shipment}}` (/barcode/{barcode}): the current `Status` only;
- the updated-shipments list (/{customernumber}/updatedshipments): `[{Barcode,
  Status: {Timestamp, StatusCode, StatusDescription, PhaseCode}}]`.
An error is `{Errors: [{Description | ErrorMsg}]}` or an API gateway `{fault}`; an
unknown barcode answers with `Warnings` and no `Shipment`.
Event codes (A01, J05, I10...) are the key; an event whose code no table knows is
described by the status recorded at the same instant in `OldStatus` (never status 99
"not applicable", which only marks bookkeeping). Timestamps are Dutch local time
without a zone (`dd-mm-yyyy HH:MM:SS`), read in Europe/Amsterdam; empty fields may come
as `{}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import DeliveryEstimate, is_final, status_of
from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    as_list,
    as_object,
    build_event,
    estimate,
    load_json,
    oldest_first,
    optional_text,
    text,
    with_estimate_on_newest,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


_LABEL: Final = _m(B.LABEL_CREATED)
_ACCEPTED: Final = _m(B.ACCEPTED_BY_CARRIER)
_SORTED: Final = _m(B.ARRIVED_AT_FACILITY)
_RESCHEDULED: Final = _m(B.DELIVERY_RESCHEDULED)
_REDIRECTED: Final = _m(B.REDIRECTED)
_LATE: Final = _m(B.DELAYED, R.UNKNOWN)
_OUT: Final = _m(B.OUT_FOR_DELIVERY_UNSPECIFIED)
_ABSENT: Final = _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)
_FAILED: Final = _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN)
_NO_ACCESS: Final = _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)
_WRONG_ADDRESS: Final = _m(B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)
_REFUSED: Final = _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)
_DAMAGED: Final = _m(B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)
_RETURN_ADDRESS: Final = _m(B.RETURNING_TO_SENDER, R.RECIPIENT_INCORRECT_ADDRESS)
_RETURN_DAMAGED: Final = _m(B.RETURNING_TO_SENDER, R.CARRIER_DAMAGED_PARCEL)
_RETURN_ABSENT: Final = _m(B.RETURNING_TO_SENDER, R.RECIPIENT_NOT_HOME)
_RETURN: Final = _m(B.RETURNING_TO_SENDER, R.UNKNOWN)
_NOT_COLLECTED: Final = _m(B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED)
_CUSTOMS_HOLD: Final = _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_INSPECTION)
_DELIVERED: Final = _m(B.DELIVERED_UNSPECIFIED)
_MAILBOX: Final = _m(B.DELIVERED_TO_MAILBOX)
_NEIGHBOUR: Final = _m(B.DELIVERED_TO_NEIGHBOUR)
_SAFE_PLACE: Final = _m(B.DELIVERED_TO_SAFE_PLACE)
_COLLECTED: Final = _m(B.PICKED_UP_AT_PICKUP_POINT)
_READY: Final = _m(B.READY_FOR_PICKUP)
_CANCELLED: Final = _m(B.CANCELLED, R.RETAILER_CANCELLED)

# Source: PostNL Developer Portal, Shippingstatus webservice, "T & T Status Codes",
# table "Event codes" (event, Dutch and English description, status it belongs to).
# Every code that says where the parcel is or what went wrong is here; the "Sorry,
# bezorgmoment is bijgewerkt" family (delivery time updated) is one late-delivery entry.
# Karrio (sdk/extensions/postnl, tracking.py) reads the events but maps none of them.
EVENT_CODES: Final[dict[str, CodeMapping]] = {
    "A01": _LABEL,  # expected, not yet arrived at PostNL
    "A10": _LABEL,  # sender generated a return label
    "A71": _LABEL,  # shipment registered
    "F01": _m(B.PICKUP_SCHEDULED),  # pick-up shipment will be collected
    "X80": _m(B.PICKUP_SCHEDULED),  # collection order received
    "B01": _ACCEPTED,  # received by PostNL
    "B04": _ACCEPTED,  # collected by PostNL
    "B06": _ACCEPTED,  # accepted by PostNL IMEC
    "C01": _ACCEPTED,  # collected by PostNL
    "X40": _ACCEPTED,  # received at a PostNL outlet
    "Z80": _ACCEPTED,  # picked up at a collection point
    "V12": _ACCEPTED,  # received by PostNL
    "V13": _ACCEPTED,  # received by PostNL
    "V23": _ACCEPTED,  # received by PostNL
    "V50": _ACCEPTED,  # received by PostNL
    "J01": _SORTED,  # shipment has been sorted
    "J06": _SORTED,  # sorted in sorting centre
    "J10": _SORTED,  # shipment has been sorted
    "J27": _SORTED,  # sorted by the depot
    "J61": _SORTED,  # shipment has been sorted
    "R01": _SORTED,  # shipment has been sorted
    "X50": _SORTED,  # in sorting centre
    "X51": _SORTED,  # shipment has been sorted
    "X07": _SORTED,  # sorted in country of destination
    "X08": _SORTED,  # at a sorting centre in the destination country
    "X14": _SORTED,  # in sorting centre in country of destination
    "X15": _SORTED,  # sorted at IMEC in destination country
    "V22": _SORTED,  # shipment is at PostNL
    "J45": _m(B.DEPARTED_FACILITY),  # on liner service to distribution depot
    "Q12": _m(B.DEPARTED_FACILITY),  # sent to country of destination
    "Q13": _m(B.DEPARTED_FACILITY),  # placed on transport
    "X19": _m(B.DEPARTED_FACILITY),  # sent to country of destination
    "X01": _m(B.ARRIVED_IN_DESTINATION_COUNTRY),  # crossed the border
    "X02": _m(B.ARRIVED_IN_DESTINATION_COUNTRY),  # arrived in the destination country
    "A76": _m(B.ARRIVED_IN_DESTINATION_COUNTRY),  # arrived in the Netherlands
    "X03": _m(B.CUSTOMS_CLEARANCE_STARTED),  # destination customs checking it
    "X60": _m(B.CUSTOMS_CLEARANCE_STARTED),  # import declaration submitted
    "X04": _m(B.CUSTOMS_CLEARED),  # destination customs approved it
    "X61": _m(B.CUSTOMS_CLEARED),  # import declaration completed
    "X65": _m(B.CUSTOMS_CLEARED),  # additional declaration completed
    "X30": _CUSTOMS_HOLD,  # delayed: additional investigation at clearance
    "X63": _CUSTOMS_HOLD,  # delayed: sample check at clearance
    "X64": _CUSTOMS_HOLD,  # delayed: sample check at clearance
    "Y64": _CUSTOMS_HOLD,  # delayed by import controls in destination country
    "Y25": _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY),  # with destination customs
    "X10": _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_DOCUMENTATION),  # parcel details missing
    "X66": _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_DOCUMENTATION),  # declaration stopped
    "X67": _m(B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID),  # awaiting import costs
    "A20": _m(B.HELD_FOR_PAYMENT, R.RECIPIENT_PAYMENT_DUE),  # payment request sent
    "A21": _m(B.PROBLEM_RESOLVED),  # payment received
    "A22": _REFUSED,  # request for payment refused
    "Y29": _m(B.DISPOSED, R.CUSTOMS_PROHIBITED),  # destroyed on behalf of customs
    "A08": _RESCHEDULED,  # recipient's choice: deliver to neighbour
    "A11": _RESCHEDULED,  # recipient's choice: deliver to random neighbour
    "A12": _RESCHEDULED,  # recipient's choice: another day
    "A13": _RESCHEDULED,  # recipient's choice: another part of the day
    "A32": _RESCHEDULED,  # evening, another day
    "A35": _RESCHEDULED,  # delivery changed to another day
    "A42": _RESCHEDULED,  # delivery date changed
    "J90": _RESCHEDULED,  # delivered on an indicated desired date
    "J17": _RESCHEDULED,  # postponed: "closed" notification
    "A09": _REDIRECTED,  # recipient's choice: pick-up location
    "A27": _REDIRECTED,  # will be delivered to the parcel locker
    "A29": _REDIRECTED,  # evening, another address
    "A30": _REDIRECTED,  # another address
    "A34": _REDIRECTED,  # delivery changed to a PostNL outlet
    "A99": _REDIRECTED,  # will be delivered to a PostNL outlet
    "J47": _REDIRECTED,  # pickup window closed, moved to a PostNL point
    "K02": _REDIRECTED,  # recipient moved, forwarded to the new address
    "K03": _REDIRECTED,  # forwarded to the address the addressee chose
    "Y23": _m(B.PROBLEM_RESOLVED),  # address corrected, new attempt follows
    "Y24": _m(B.PROBLEM_RESOLVED),  # address corrected, new attempt follows
    "J09": _LATE,  # sorry, delivery time has been updated
    "J14": _LATE,
    "J24": _LATE,
    "J36": _LATE,
    "G01": _LATE,
    "G02": _LATE,
    "G03": _LATE,
    "G05": _LATE,
    "H32": _LATE,
    "T02": _LATE,
    "V01": _LATE,
    "V02": _LATE,
    "V03": _LATE,
    "Y35": _LATE,
    "J26": _LATE,  # postponed until the following working day
    "J39": _LATE,
    "Y33": _LATE,
    "K25": _LATE,  # delayed, location unreachable for processing
    "V04": _m(B.DELAYED, R.RETAILER_NOT_READY),  # handed to PostNL too late
    "V06": _m(B.DELAYED_PROCESSING, R.CARRIER_CAPACITY_EXCEEDED),  # very high traffic
    "Y65": _m(B.DELAYED_WEATHER, R.WEATHER_DELAY),  # extreme weather
    "J05": _OUT,  # driver is en route
    "X55": _OUT,  # driver is en route
    "J59": _OUT,  # delivered to you today by courier
    "X06": _OUT,  # on its way to the recipient
    "Y05": _OUT,  # on its way to the recipient
    "J07": _m(B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED),  # closed, next working day
    "Y43": _m(B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED),  # addressee location closed
    "J16": _NO_ACCESS,  # delivery address inaccessible, new attempt
    "K16": _NO_ACCESS,  # address unreachable long term
    "Y41": _NO_ACCESS,  # location access code missing
    "P23": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.RECIPIENT_SAFE_PLACE_UNAVAILABLE),
    "D08": _ABSENT,  # we missed you, we'll try again
    "K14": _ABSENT,  # we missed you, we'll try again
    "Y02": _ABSENT,  # we missed you, not delivered
    "Y10": _ABSENT,  # we missed you, we'll try again
    "K71": _ABSENT,  # we missed you, sent to a PostNL retail point
    "J94": _ABSENT,  # freight not delivered, addressee absent
    "Y42": _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE),  # addressee unavailable
    "J08": _FAILED,  # delivery unsuccessful, we'll try again
    "K70": _FAILED,  # delivery unsuccessful, goes to a PostNL outlet
    "H34": _FAILED,  # not delivered
    "J29": _FAILED,  # does not fit through the letterbox, try again
    "Y36": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.RECIPIENT_VERIFICATION_FAILED),  # no ID
    "J33": _WRONG_ADDRESS,  # recovery procedure for incorrect address
    "H36": _WRONG_ADDRESS,  # not delivered, incorrect address
    "Y01": _WRONG_ADDRESS,
    "Y09": _WRONG_ADDRESS,  # contacting addressee, incorrect delivery address
    "Y12": _WRONG_ADDRESS,  # address incorrect, PostNL contacts the sender
    "Y17": _WRONG_ADDRESS,
    "Y30": _WRONG_ADDRESS,  # incorrect postcode
    "Y32": _WRONG_ADDRESS,  # address unknown
    "Y31": _m(B.INCOMPLETE_ADDRESS, R.RECIPIENT_INCOMPLETE_ADDRESS),  # missing postcode
    "Y22": _m(B.CUSTOMER_MOVED, R.RECIPIENT_MOVED),  # addressee relocated
    "H01": _REFUSED,  # refused at delivery, return to sender
    "H38": _REFUSED,
    "Y03": _REFUSED,  # refused by addressee
    "Y13": _REFUSED,  # refused, PostNL contacting sender
    "Y50": _REFUSED,  # refused, incomplete
    "Y44": _m(B.REFUSED_BY_RECIPIENT, R.CARRIER_DAMAGED_PARCEL),  # refused: damaged
    "Y04": _DAMAGED,  # shipment damaged
    "Y11": _DAMAGED,  # damaged, recipient contacted
    "Y14": _DAMAGED,
    "K41": _m(B.HELD_FOR_PAYMENT, R.RECIPIENT_PAYMENT_DUE),  # COD: recipient cannot pay
    "K15": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),  # error during delivery
    "K30": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),  # cannot be delivered
    "Y71": _m(B.LOST, R.CARRIER_PARCEL_LOST),  # shipment missing
    "F03": _m(B.REJECTED_BY_CARRIER, R.RETAILER_INCORRECT_DATA),  # shipment details missing
    "F04": _m(B.REJECTED_BY_CARRIER, R.RETAILER_INCORRECT_DATA),
    "Y45": _m(B.REJECTED_BY_CARRIER, R.RETAILER_NONCOMPLIANT_SHIPMENT),  # prohibited
    "H02": _RETURN_ADDRESS,  # incorrect address, return to sender
    "H12": _RETURN_ADDRESS,  # addressee incorrect
    "Y16": _RETURN_ADDRESS,
    "H03": _NOT_COLLECTED,  # not collected, return to sender
    "Y20": _NOT_COLLECTED,
    "H04": _RETURN_DAMAGED,  # damaged, return to sender
    "H35": _RETURN_DAMAGED,
    "Y18": _RETURN_DAMAGED,
    "H05": _RETURN_ABSENT,  # we missed you, returned to sender
    "H07": _RETURN_ABSENT,
    "Y40": _RETURN_ABSENT,
    "H16": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_NOT_AVAILABLE),  # long unavailable
    "H25": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_NOT_AVAILABLE),
    "H08": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_VERIFICATION_FAILED),  # wrong code or ID
    "H10": _m(B.RETURNING_TO_SENDER, R.RETAILER_NONCOMPLIANT_SHIPMENT),  # content refused
    "Y19": _m(B.RETURNING_TO_SENDER, R.RETAILER_NONCOMPLIANT_SHIPMENT),  # prohibited item
    "H15": _m(B.RETURNING_TO_SENDER, R.RETAILER_INCORRECT_DIMENSIONS),  # too large/heavy
    "Y47": _m(B.RETURNING_TO_SENDER, R.CUSTOMS_DOCUMENTATION),  # export form missing
    "H22": _m(B.RETURNING_TO_SENDER, R.RETAILER_REQUESTED_RETURN),  # sender's request
    "H24": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_CANCELLED),  # recipient's request
    "H18": _RETURN,  # delivery failed, goes back to the sender
    "H20": _RETURN,  # returned to sender
    "Y21": _RETURN,
    "K43": _RETURN,  # will be returned
    "X22": _RETURN,  # international shipment returned
    "H30": _CANCELLED,  # sender cancelled the shipment order
    "H31": _CANCELLED,
    "K92": _m(B.DISPOSED, R.UNKNOWN),  # shipment destroyed
    "I01": _DELIVERED,  # shipment delivered
    "I03": _DELIVERED,
    "I06": _DELIVERED,  # sorted, handed to the addressee (PO box, business)
    "Z01": _DELIVERED,  # delivered to the recipient
    "Z02": _DELIVERED,
    "Z03": _DELIVERED,
    "Z04": _DELIVERED,
    "Z08": _DELIVERED,
    "I23": _m(B.DELIVERED_TO_RECIPIENT),  # handed over to the recipient
    "I05": _MAILBOX,  # in letterbox
    "I11": _MAILBOX,
    "I09": _SAFE_PLACE,  # personal parcel locker
    "I12": _SAFE_PLACE,  # delivered to the indicated location
    "Z09": _SAFE_PLACE,  # delivered to the recipient's safe location
    "I10": _NEIGHBOUR,  # delivered to neighbour
    "Z05": _NEIGHBOUR,  # delivered to neighbours in destination country
    "I02": _COLLECTED,  # collected at a PostNL outlet
    "I22": _COLLECTED,
    "Z06": _COLLECTED,  # picked up at a collection point
    "I07": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),  # return handed to the sender
    "J63": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),  # return shipment delivered
    "I08": _READY,  # available at a PostNL outlet
    "J02": _READY,  # to be collected at a PostNL outlet
    "J12": _READY,
    "J23": _READY,  # can be collected at the parcel locker
    "X05": _READY,  # to be collected at pick-up location
    "J52": _m(B.HELD_AT_DEPOT),  # to be collected at PO Box location
    "Y26": _m(B.HELD_AT_DEPOT),  # to be collected at PO Box
}

# Source: PostNL Developer Portal, "T & T Status Codes", table "Status codes" (status,
# phase 1 Collectie, 2 Sortering, 3 Distributie, 4 Afgeleverd, 99 Niet van toepassing),
# plus 27, 28 and 31 from the status column of its "Event codes" table. Karrio
# (sdk/extensions/postnl/karrio/providers/postnl/units.py) maps 9 (at customs) to
# on_hold and 15/18/19 (missing, rejected) to a failed delivery; here customs is the
# clearance in progress and a missing parcel is researched, then lost.
STATUS_CODES: Final[dict[str, CodeMapping]] = {
    "1": _LABEL,  # pre-alerted
    "2": _ACCEPTED,  # accepted
    "3": _ACCEPTED,  # collected
    "4": _m(B.EXCEPTION_UNSPECIFIED, R.RETAILER_NOT_READY),  # not collected
    "13": _LABEL,  # pre-alerted, not yet accepted
    "14": _m(B.EXCEPTION_UNSPECIFIED, R.RETAILER_NOT_READY),  # definitely not accepted
    "15": _m(B.HELD_BY_CARRIER, R.PARCEL_BEING_RESEARCHED),  # missing at collection
    "18": _m(B.LOST, R.CARRIER_PARCEL_LOST),  # definitely missing
    "19": _m(B.REJECTED_BY_CARRIER, R.RETAILER_NONCOMPLIANT_SHIPMENT),  # rejected
    "5": _SORTED,  # sorted
    "6": _m(B.DELAYED_PROCESSING, R.CARRIER_PROCESSING_DELAY),  # not sorted
    "16": _m(B.HELD_BY_CARRIER, R.PARCEL_BEING_RESEARCHED),  # missing in sorting
    "21": _SORTED,  # in storage
    "31": _m(B.IN_TRANSIT_UNSPECIFIED),  # ready for transport to destination country
    "7": _OUT,  # out for delivery
    "8": _FAILED,  # not delivered
    "9": _m(B.CUSTOMS_CLEARANCE_STARTED),  # at customs
    "17": _m(B.HELD_BY_CARRIER, R.PARCEL_BEING_RESEARCHED),  # missing in distribution
    "20": _m(B.CUSTOMS_CLEARANCE_STARTED),  # in clearance process
    "11": _DELIVERED,  # delivered
    "12": _READY,  # at pick-up location
    "22": _COLLECTED,  # picked up from post office
    "23": _ACCEPTED,  # collection order collected
    "27": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_NOT_AVAILABLE),  # return: undeliverable
    "28": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_VERIFICATION_FAILED),  # wrong code
}

NOT_APPLICABLE: Final = "99"
"""Status and phase code of bookkeeping entries ("Niet van toepassing"): never an event."""

_ZONE: Final = ZoneInfo("Europe/Amsterdam")
_TIMESTAMP_FORMATS: Final = ("%d-%m-%Y %H:%M:%S.%f", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M")


class PostnlAdapter:
    carrier = "postnl"
    default_zone = _ZONE

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = load_json(payload, carrier=self.carrier)
        if isinstance(document, list):
            events = _updated_shipments(document)
        else:
            events = _status_answer(as_object(document, where="payload"))
        if not events:
            raise PayloadError("PostNL answer has no status to report")
        return oldest_first(events)


def _status_answer(document: dict[str, Any]) -> list[NormalizedEvent]:
    error = _error_of(document)
    if error is not None:
        raise PayloadError(error)
    for key, detailed in (("CompleteStatus", True), ("CurrentStatus", False)):
        if key in document:
            body = as_object(document[key], where=key)
            shipments = _items(body.get("Shipment"))
            if not shipments:
                raise PayloadError(f"{key}: no Shipment ({_warning_of(body)})")
            return [
                event
                for index, shipment in enumerate(shipments)
                for event in _shipment(shipment, detailed=detailed, where=f"{key}[{index}]")
            ]
    raise PayloadError("payload: no CompleteStatus or CurrentStatus (not a PostNL status)")


def _shipment(value: Any, *, detailed: bool, where: str) -> list[NormalizedEvent]:
    shipment = as_object(value, where=f"{where}.Shipment")
    barcode = optional_text(shipment.get("MainBarcode")) or optional_text(shipment.get("Barcode"))
    if barcode is None:
        raise PayloadError(f"{where}.Shipment: no Barcode")
    statuses = [as_object(item, where=f"{where}.OldStatus") for item in _old_statuses(shipment)]
    if not statuses and isinstance(shipment.get("Status"), dict):
        statuses = [shipment["Status"]]
    raw_events = _items(shipment.get("Event")) if detailed else []
    if raw_events:
        by_instant = _status_by_instant(statuses, where=where)
        events = [
            _event(raw, barcode=barcode, by_instant=by_instant, where=f"{where}.Event[{index}]")
            for index, raw in enumerate(raw_events)
        ]
    else:
        events = [
            _status_event(status, barcode=barcode, where=f"{where}.Status[{index}]")
            for index, status in enumerate(statuses)
            if optional_text(status.get("StatusCode")) != NOT_APPLICABLE
        ]
    events = oldest_first(reversed(events))
    if events and is_final(events[-1].substatus):
        return events
    return with_estimate_on_newest(events, _estimate(shipment))


def _event(
    value: Any, *, barcode: str, by_instant: dict[datetime, str], where: str
) -> NormalizedEvent:
    raw = as_object(value, where=where)
    code = text(raw.get("Code"), where=f"{where}.Code")
    occurred_at = _timestamp(raw.get("TimeStamp"), where=f"{where}.TimeStamp")
    mapping = EVENT_CODES.get(code)
    status_code = by_instant.get(occurred_at)
    if mapping is None and status_code is not None:
        mapping = STATUS_CODES.get(status_code)
    return build_event(
        tracking_number=barcode,
        carrier_code=code,
        carrier_reason_code=status_code,
        mapping=mapping,
        occurred_at=occurred_at,
        description=optional_text(raw.get("Description")),
        location=None,
    )


def _status_event(status: dict[str, Any], *, barcode: str, where: str) -> NormalizedEvent:
    code = text(status.get("StatusCode"), where=f"{where}.StatusCode")
    moment = status.get("TimeStamp") if "TimeStamp" in status else status.get("Timestamp")
    return build_event(
        tracking_number=barcode,
        carrier_code=code,
        carrier_reason_code=optional_text(status.get("PhaseCode")),
        mapping=STATUS_CODES.get(code),
        occurred_at=_timestamp(moment, where=f"{where}.TimeStamp"),
        description=optional_text(status.get("StatusDescription")),
        location=None,
    )


def _updated_shipments(items: list[Any]) -> list[NormalizedEvent]:
    events: list[NormalizedEvent] = []
    for index, value in enumerate(items):
        where = f"shipments[{index}]"
        item = as_object(value, where=where)
        barcode = text(item.get("Barcode"), where=f"{where}.Barcode")
        status = as_object(item.get("Status"), where=f"{where}.Status")
        if optional_text(status.get("StatusCode")) != NOT_APPLICABLE:
            events.append(_status_event(status, barcode=barcode, where=f"{where}.Status"))
    return events


def _status_by_instant(statuses: list[dict[str, Any]], *, where: str) -> dict[datetime, str]:
    found: dict[datetime, str] = {}
    for index, status in enumerate(statuses):
        code = optional_text(status.get("StatusCode"))
        if code is not None and code != NOT_APPLICABLE:
            moment = _timestamp(status.get("TimeStamp"), where=f"{where}.OldStatus[{index}]")
            found.setdefault(moment, code)
    return found


def _timestamp(value: Any, *, where: str) -> datetime:
    """`08-11-2022 10:13:20`, with or without milliseconds, or ISO 8601; zone-less
    times are Dutch local time."""
    raw = text(value, where=where)
    for layout in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(raw, layout).replace(tzinfo=_ZONE)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(f"{where}: {raw!r} is not a PostNL timestamp") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_ZONE)


def _estimate(shipment: dict[str, Any]) -> DeliveryEstimate | None:
    expectation = shipment.get("Expectation")
    window = expectation if isinstance(expectation, dict) else {}
    start_raw, end_raw = optional_text(window.get("ETAFrom")), optional_text(window.get("ETATo"))
    start = _timestamp(start_raw, where="Expectation.ETAFrom") if start_raw else None
    end = _timestamp(end_raw, where="Expectation.ETATo") if end_raw else None
    if start is not None:
        return estimate(day=start.date(), start=start, end=end)
    day_raw = optional_text(shipment.get("DeliveryDate"))
    if day_raw is None:
        return None
    return estimate(day=_timestamp(f"{day_raw[:10]}T00:00:00", where="DeliveryDate").date())


def _items(value: Any) -> list[Any]:
    """A PostNL repeated element: a list, one object, or absent (`None`/`{}`)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and value:
        return [value]
    return []


def _old_statuses(shipment: dict[str, Any]) -> list[Any]:
    return _items(shipment.get("OldStatus")) or _items(shipment.get("OldStatuses"))


def _warning_of(body: dict[str, Any]) -> str:
    warnings = _items(body.get("Warnings"))
    first = warnings[0] if warnings and isinstance(warnings[0], dict) else {}
    return optional_text(first.get("Description")) or "unknown barcode?"


def _error_of(document: dict[str, Any]) -> str | None:
    errors = as_list(document["Errors"], where="Errors") if "Errors" in document else []
    first = errors[0] if errors and isinstance(errors[0], dict) else None
    if first is not None:
        message = optional_text(first.get("Description")) or optional_text(first.get("ErrorMsg"))
        return f"PostNL answered with an error: {message or 'no description'}"
    fault = document.get("fault")
    if isinstance(fault, dict):
        return f"PostNL answered with an error: {optional_text(fault.get('faultstring')) or '?'}"
    return None
