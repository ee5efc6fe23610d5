"""Royal Mail: the Tracking API v2 (https://api.royalmail.net/mailpieces/v2).

Two answers are read, told apart by `mailPieces`:
- events (GET /mailpieces/v2/{id}/events): `mailPieces` is one object `{mailPieceId,
  summary: {oneDBarcode, lastEventCode, statusCategory...}, estimatedDelivery: {date,
  startOfEstimatedWindow, endOfEstimatedWindow}, events: [{eventCode, eventName,
  eventDateTime, locationName}]}`, events newest first;
- summary (GET /mailpieces/v2/summary?mailPieceId=...): `mailPieces` is a list of
  `{mailPieceId, summary: {lastEventCode, lastEventName, lastEventDateTime,
  lastEventLocationName, statusCategory}}` or `{mailPieceId, error: {...}}`: the last
  event of each item.
An error is `{httpCode, httpMessage, errors: [{errorCode, errorDescription}]}`.
Times carry offsets (Europe/London otherwise). The tracking number is the printed
one-dimensional barcode (`summary.oneDBarcode`), else `mailPieceId`. The event code is
the key; `summary.statusCategory` describes the newest event when its code is unknown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import DeliveryEstimate, status_of
from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
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
    parse_day,
    parse_instant,
    resolve,
    sub_object,
    text,
    with_estimate_on_newest,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


_MISSORT: Final = _m(B.DELAYED_PROCESSING, R.CARRIER_SORTING_ERROR)
_REDELIVERY: Final = _m(B.DELIVERY_RESCHEDULED)

# Source: Royal Mail Tracking API v2 event codes with the customer wording Royal Mail
# shows for each ("Event codes" list of elliotjreed/royal-mail-tracking README.md, the
# PHP client of https://developer.royalmail.net/ tracking v2), completed by EVKSP
# "Delivered and Signed", EVNSR "Item Prepared for Redelivery" and EVODO "Item
# Despatched to DO" from the same API's event names. Karrio
# (modules/connectors/royalmail, removed in 2025) kept no code table: it called a parcel
# delivered when `lastEventName` contained "Delivered".
CODES: Final[dict[str, CodeMapping]] = {
    "EVAIP": _m(B.LABEL_CREATED),  # sender despatching item (pre-advice)
    "EVAIE": _m(B.LABEL_CREATED),  # sender despatching item
    "EVBAH": _m(B.ARRIVED_AT_FACILITY),  # at the National Parcel Hub, on its way
    "EVDAC": _m(B.ARRIVED_AT_FACILITY),  # at [X] Mail Centre, on its way
    "EVDAV": _m(B.ARRIVED_AT_FACILITY),  # at [X] Mail Centre, on its way
    "EVIAV": _m(B.ARRIVED_AT_FACILITY),  # reached [X] MC, sent to the delivery office
    "EVIMC": _m(B.ARRIVED_AT_FACILITY),  # reached [X] MC, sent to the delivery office
    "EVODO": _m(B.DEPARTED_FACILITY),  # despatched to the delivery office
    "EVGMI": _MISSORT,  # went to [X] DO in error, re-routed
    "EVIPI": _MISSORT,  # went to [X] MC in error, re-routed
    "EVNMI": _MISSORT,  # "Forwarded - Mis-sort"
    "EVGPD": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),  # received by [X] DO, due for delivery today
    "EVKAA": _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED),  # address inaccessible
    "EVNAA": _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED),  # address inaccessible
    "EVKNA": _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME),  # nobody in
    "EVNDN": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),  # unable to deliver, next day
    "EVKSU": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.RECIPIENT_SAFE_PLACE_UNAVAILABLE),
    "EVNDA": _m(B.HELD_AT_DEPOT),  # nobody in: for redelivery or collection at the DO
    "EVKAI": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_INCORRECT_ADDRESS),  # address unknown
    "EVKGA": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_MOVED),  # no longer at that address
    "EVNGA": _m(B.RETURNING_TO_SENDER, R.RECIPIENT_MOVED),  # no longer at that address
    "EVKRF": _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED),  # refused, returned
    "EVNRF": _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED),  # refused, returned
    "EVNRT": _m(B.HELD_BY_CARRIER, R.UNKNOWN),  # held: request not to deliver today
    "EVRTS": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),  # delivered back to the sender
    "EVKLC": _m(B.READY_FOR_PICKUP),  # at the nominated collection point
    "EVNOC": _m(B.PICKED_UP_AT_PICKUP_POINT),  # collected from [X] DO
    "EVPLC": _m(B.PICKED_UP_AT_PICKUP_POINT),  # collected from [X] Post Office
    "EVKOP": _m(B.DELIVERED_UNSPECIFIED),  # delivered
    "EVKSP": _m(B.SIGNED_FOR),  # delivered and signed
    "EVKSF": _m(B.DELIVERED_TO_SAFE_PLACE),  # delivered to your Safeplace
    "EVKDN": _m(B.DELIVERED_TO_NEIGHBOUR),  # delivered to your neighbour
    "EVNKS": _REDELIVERY,  # held at [X] DO by the recipient's Keepsafe
    "EVNAR": _REDELIVERY,  # due for redelivery the next working day
    "EVNSR": _REDELIVERY,  # prepared for redelivery
    "ASRXS": _REDELIVERY,  # redelivery arranged, else the chosen Safeplace
    "RFRXS": _REDELIVERY,  # redelivery arranged, else the chosen neighbour
    "RORXS": _REDELIVERY,  # redelivery arranged
    "RSRXS": _REDELIVERY,  # redelivery arranged, else the chosen Safeplace
    "RNRXS": _m(B.REDIRECTED),  # redelivery to the chosen address
    "RPRXS": _m(B.REDIRECTED),  # redelivery to the chosen Post Office
}

# Source: Royal Mail Tracking API v2, `summary.statusCategory` enum (IN TRANSIT,
# DELIVERED, EXCEPTION, NOT FOUND, EXPIRED), used for the newest event only.
STATUS_CATEGORIES: Final[dict[str, CodeMapping]] = {
    "IN TRANSIT": _m(B.IN_TRANSIT_UNSPECIFIED),
    "DELIVERED": _m(B.DELIVERED_UNSPECIFIED),
    "EXCEPTION": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
    "NOT FOUND": _m(B.PENDING_UNSPECIFIED),
    "EXPIRED": _m(B.EXPIRED_UNSPECIFIED),
}

_ABSENT: Final = _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)

# Royal Mail's event names (`eventName`, British English), folded; first keyword wins.
TEXT_REFINEMENTS: Final[Refinements] = {
    "EVKOP": (
        ("neighbour", _m(B.DELIVERED_TO_NEIGHBOUR)),
        ("safeplace", _m(B.DELIVERED_TO_SAFE_PLACE)),
        ("safe place", _m(B.DELIVERED_TO_SAFE_PLACE)),
        ("letterbox", _m(B.DELIVERED_TO_MAILBOX)),
        ("signed", _m(B.SIGNED_FOR)),
    ),
    "EVNDN": (
        ("no access", _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)),
        ("inaccessible", _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)),
        ("no answer", _ABSENT),
        ("anyone in", _ABSENT),
    ),
}

_DEFAULT_ZONE: Final = ZoneInfo("Europe/London")


class RoyalMailAdapter:
    carrier = "royal_mail"
    default_zone = _DEFAULT_ZONE

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        error = _error_of(document)
        if error is not None:
            raise PayloadError(error)
        pieces = field(document, "mailPieces", where="payload")
        if isinstance(pieces, dict):
            return _events_answer(pieces)
        items = as_list(pieces, where="mailPieces")
        events = [
            event
            for index, item in enumerate(items)
            if (event := _summary_item(item, where=f"mailPieces[{index}]")) is not None
        ]
        if not events:
            messages = [_piece_error(item) for item in items if isinstance(item, dict)]
            reason = next((message for message in messages if message), "no tracked item")
            raise PayloadError(f"Royal Mail answered with no tracking data: {reason}")
        return oldest_first(events)


def _events_answer(piece: dict[str, Any]) -> list[NormalizedEvent]:
    where = "mailPieces"
    summary = sub_object(piece, "summary")
    tracking_number = _tracking_number(piece, summary, where=where)
    raw_events = as_list(field(piece, "events", where=where), where=f"{where}.events")
    category = optional_text(summary.get("statusCategory"))
    events = oldest_first(
        reversed(
            [
                _event(
                    as_object(raw, where=f"{where}.events[{index}]"),
                    tracking_number=tracking_number,
                    category=category if index == 0 else None,
                    keys=("eventCode", "eventName", "eventDateTime", "locationName"),
                    where=f"{where}.events[{index}]",
                )
                for index, raw in enumerate(raw_events)
            ]
        )
    )
    if category == "DELIVERED":
        return events
    return with_estimate_on_newest(events, _estimate(sub_object(piece, "estimatedDelivery")))


def _summary_item(value: Any, *, where: str) -> NormalizedEvent | None:
    item = as_object(value, where=where)
    summary = item.get("summary")
    if not isinstance(summary, dict) or not summary.get("lastEventCode"):
        return None
    return _event(
        summary,
        tracking_number=_tracking_number(item, summary, where=where),
        category=optional_text(summary.get("statusCategory")),
        keys=("lastEventCode", "lastEventName", "lastEventDateTime", "lastEventLocationName"),
        where=f"{where}.summary",
    )


def _event(
    raw: dict[str, Any],
    *,
    tracking_number: str,
    category: str | None,
    keys: tuple[str, str, str, str],
    where: str,
) -> NormalizedEvent:
    code_key, name_key, time_key, location_key = keys
    code = text(field(raw, code_key, where=where), where=f"{where}.{code_key}")
    name = optional_text(raw.get(name_key))
    mapping = resolve(code, table=CODES, refinements=TEXT_REFINEMENTS, texts=[name])
    if mapping is None and category is not None:
        mapping = STATUS_CATEGORIES.get(category.upper())
    return build_event(
        tracking_number=tracking_number,
        carrier_code=code,
        carrier_reason_code=category if code not in CODES else None,
        mapping=mapping,
        occurred_at=parse_instant(
            field(raw, time_key, where=where), zone=_DEFAULT_ZONE, where=f"{where}.{time_key}"
        ),
        description=name,
        location=make_location(facility=raw.get(location_key)),
    )


def _tracking_number(piece: dict[str, Any], summary: dict[str, Any], *, where: str) -> str:
    barcode = optional_text(summary.get("oneDBarcode"))
    if barcode is not None:
        return barcode
    return text(field(piece, "mailPieceId", where=where), where=f"{where}.mailPieceId")


def _estimate(value: dict[str, Any]) -> DeliveryEstimate | None:
    raw_day = optional_text(value.get("date"))
    if raw_day is None:
        return None
    day = parse_day(raw_day[:10], day_format="%Y-%m-%d", where="estimatedDelivery.date")
    start = _window_edge(raw_day[:10], value.get("startOfEstimatedWindow"))
    end = _window_edge(raw_day[:10], value.get("endOfEstimatedWindow"))
    return estimate(day=day, start=start, end=end)


def _window_edge(day: str, clock: Any) -> datetime | None:
    """`08:00:00+01:00` on the estimated day; None when absent or unreadable."""
    raw = optional_text(clock)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(f"{day}T{raw}")
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_DEFAULT_ZONE)


def _error_of(document: dict[str, Any]) -> str | None:
    if "mailPieces" in document:
        return None
    errors = document.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if isinstance(first, dict):
        code = optional_text(first.get("errorCode")) or "?"
        description = optional_text(first.get("errorDescription")) or "no description"
        return f"Royal Mail answered with an error: {code}: {description}"
    message = optional_text(document.get("httpMessage")) or optional_text(
        document.get("moreInformation")
    )
    if message is not None:
        return f"Royal Mail answered with an error: {message}"
    return None


def _piece_error(item: dict[str, Any]) -> str | None:
    error = item.get("error")
    if not isinstance(error, dict):
        return None
    code = optional_text(error.get("errorCode")) or "?"
    return f"{code}: {optional_text(error.get('errorDescription')) or 'no description'}"
