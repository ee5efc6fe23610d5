"""The "add to calendar" file of a tracking page: one all-day event (RFC 5545).

Rules:
- a parcel waiting at a pickup point gives its hold deadline's day (in the
  customer's time zone); a parcel on its way gives the carrier's estimated day, else
  the promised day; a delivered or cancelled parcel, or one without any day, gives
  no event;
- the event is all-day (DTSTART;VALUE=DATE, DTEND the next day, RFC 5545 3.6.1) and
  its UID is the same for every download of one shipment, so a calendar that imports
  it twice updates the event instead of adding a second one;
- text values are escaped (backslash, semicolon, comma, newline: 3.3.11) and lines
  longer than 75 octets are folded (3.1); lines end with CRLF.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from relais_contracts.common import DeliveryMode
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import TrackingStatus

PRODUCT_ID = "-//Relais//Tracking page//EN"
MAX_OCTETS = 75


class CalendarKind(StrEnum):
    DELIVERY = "delivery"
    PICKUP_DEADLINE = "pickup_deadline"


@dataclass(frozen=True)
class CalendarDay:
    kind: CalendarKind
    day: date


def calendar_day(state: ShipmentStateChanged) -> CalendarDay | None:
    if state.delivered_at is not None or state.cancelled or state.final:
        return None
    waiting = state.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    if waiting and state.pickup_hold_deadline is not None:
        local = state.pickup_hold_deadline.astimezone(ZoneInfo(state.customer.time_zone))
        return CalendarDay(CalendarKind.PICKUP_DEADLINE, local.date())
    estimated = state.estimated_delivery.day if state.estimated_delivery else None
    day = estimated or state.promised_delivery_by
    return None if day is None else CalendarDay(CalendarKind.DELIVERY, day)


def pickup_mode(state: ShipmentStateChanged) -> bool:
    return state.delivery.mode is DeliveryMode.PICKUP_POINT


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    day: date
    summary: str
    description: str
    location: str | None
    url: str | None
    stamp: datetime


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> Iterator[str]:
    """Split a content line into chunks of at most 75 octets, never inside a character."""
    chunk, size, limit = "", 0, MAX_OCTETS
    for character in line:
        width = len(character.encode("utf-8"))
        if size + width > limit:
            yield chunk
            chunk, size, limit = " ", 1, MAX_OCTETS
        chunk += character
        size += width
    yield chunk


def _lines(event: CalendarEvent) -> Iterator[str]:
    yield from ("BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODUCT_ID}")
    yield from ("CALSCALE:GREGORIAN", "METHOD:PUBLISH", "BEGIN:VEVENT")
    yield f"UID:{event.uid}"
    yield f"DTSTAMP:{event.stamp.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    yield f"DTSTART;VALUE=DATE:{event.day:%Y%m%d}"
    yield f"DTEND;VALUE=DATE:{event.day + timedelta(days=1):%Y%m%d}"
    yield f"SUMMARY:{escape_text(event.summary)}"
    yield f"DESCRIPTION:{escape_text(event.description)}"
    if event.location:
        yield f"LOCATION:{escape_text(event.location)}"
    if event.url:
        yield f"URL:{event.url}"
    yield from ("TRANSP:TRANSPARENT", "END:VEVENT", "END:VCALENDAR")


def ics(event: CalendarEvent) -> bytes:
    folded = (part for line in _lines(event) for part in fold(line))
    return "".join(f"{part}\r\n" for part in folded).encode("utf-8")
