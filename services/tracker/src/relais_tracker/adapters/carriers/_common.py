"""Helpers shared by the carrier adapters: JSON access that fails with a reason, time
zones, code lookup with text refinements, event building.

Rules:
- every accessor raises `PayloadError` naming the JSON path it could not read;
- a code missing from the adapter's table maps to `UNKNOWN_CODE_DEFAULT` with
  `code_recognized=False` and no incident (nothing is claimed on a guess);
- a refinement only narrows a known code using the carrier's own text (first
  keyword found wins, matched case- and accent-insensitively); it never turns an
  unknown code into a known one;
- a zone-less time is read in the zone of the event's country when that country has
  a single zone (`COUNTRY_ZONES`), else in the adapter's documented default zone;
- the carrier's text that becomes a contract field (description, codes, location) is
  made one line: each run of control characters (CR, LF, TAB, NUL...) becomes one
  space (`one_line`), so a carrier's line break never makes its update undecodable;
  a code made of control characters only is written `UNREADABLE_CODE`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, Final, TypeAlias
from zoneinfo import ZoneInfo

from relais_contracts.text import neutralize_control_characters
from relais_contracts.tracking import (
    UNKNOWN_CODE_DEFAULT,
    DeliveryEstimate,
    Incident,
    IncidentReason,
    Location,
    Substatus,
    TrackingStatus,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError

CodeMapping: TypeAlias = tuple[TrackingStatus, Substatus, IncidentReason | None]
"""What one carrier code means: (status, substatus, incident reason or None)."""

Refinements: TypeAlias = Mapping[str, tuple[tuple[str, CodeMapping], ...]]
"""Per carrier code, (keyword, mapping) pairs tried in order against the event text."""

UTC: Final = ZoneInfo("UTC")

UNREADABLE_CODE: Final = "?"
"""The carrier code of an event whose code was nothing but control characters."""

COUNTRY_ZONES: Final[dict[str, str]] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CH": "Europe/Zurich",
    "CN": "Asia/Shanghai",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HK": "Asia/Hong_Kong",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IN": "Asia/Kolkata",
    "IT": "Europe/Rome",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "MA": "Africa/Casablanca",
    "MC": "Europe/Monaco",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm",
    "SG": "Asia/Singapore",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "TR": "Europe/Istanbul",
}
"""Countries with one civil time zone (Spain and Portugal have islands, the US, Canada,
Brazil, Russia, Australia and Mexico several: those fall back to the adapter default)."""


def load_json(payload: bytes, *, carrier: str) -> Any:
    """The payload as JSON; PayloadError (a 400, never a 500) for anything that is not,
    nesting too deep for the parser included."""
    try:
        return json.loads(payload)
    except RecursionError:
        raise PayloadError(f"{carrier}: payload nests too deep to be a tracking update") from None
    except UnicodeDecodeError as error:
        raise PayloadError(f"{carrier}: payload is not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise PayloadError(
            f"{carrier}: payload is not JSON ({error.msg} at line {error.lineno} "
            f"column {error.colno})"
        ) from None


def as_object(value: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object, got {_kind(value)}")
    return value


def as_list(value: Any, *, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"{where}: expected a list, got {_kind(value)}")
    return value


def sub_object(container: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The object under `key`, or an empty one when it is absent or not an object."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def field(container: Mapping[str, Any], key: str, *, where: str) -> Any:
    """The value under `key`; PayloadError when it is absent or null."""
    value = container.get(key)
    if value is None:
        raise PayloadError(f"{where}.{key}: missing")
    return value


def text(value: Any, *, where: str) -> str:
    """A non-empty string (numbers are accepted and rendered as text)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{where}: expected text, got {_kind(value)}")
    rendered = str(value).strip()
    if not rendered:
        raise PayloadError(f"{where}: empty")
    return rendered


def one_line(value: str) -> str:
    """The carrier's text on one line: control character runs become one space, and
    the ends are stripped."""
    return neutralize_control_characters(value).strip()


def optional_text(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def zone_for(country: str | None, *, default: ZoneInfo) -> ZoneInfo:
    name = COUNTRY_ZONES.get((country or "").upper())
    return ZoneInfo(name) if name else default


def parse_instant(value: Any, *, zone: ZoneInfo, where: str) -> datetime:
    """An ISO 8601 date-time; one without an offset is read in `zone`."""
    raw = text(value, where=where)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(f"{where}: {raw!r} is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def parse_local(
    day: Any, clock: Any, *, day_format: str, clock_format: str, zone: ZoneInfo, where: str
) -> datetime:
    """A carrier's separate local date and time fields, read in `zone`."""
    raw_day = text(day, where=f"{where} date")
    raw_clock = text(clock, where=f"{where} time")
    try:
        parsed_day = datetime.strptime(raw_day, day_format).date()
        parsed_clock = datetime.strptime(raw_clock, clock_format).time()
    except ValueError:
        raise PayloadError(
            f"{where}: {raw_day!r} {raw_clock!r} does not match {day_format} {clock_format}"
        ) from None
    return datetime.combine(parsed_day, parsed_clock, tzinfo=zone)


def parse_day(value: Any, *, day_format: str, where: str) -> date:
    raw = text(value, where=where)
    try:
        return datetime.strptime(raw, day_format).date()
    except ValueError:
        raise PayloadError(f"{where}: {raw!r} does not match {day_format}") from None


def estimate(
    *, day: date | None, start: datetime | None = None, end: datetime | None = None
) -> DeliveryEstimate | None:
    if day is None:
        return None
    if start is not None and end is not None and end <= start:
        start = end = None
    return DeliveryEstimate(day=day, window_start=start, window_end=end)


def window_on(
    day: date, *, start: time | None, end: time | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    if start is None or end is None:
        return None, None
    return datetime.combine(day, start, tzinfo=zone), datetime.combine(day, end, tzinfo=zone)


def make_location(
    *,
    city: Any = None,
    postal_code: Any = None,
    country: Any = None,
    facility: Any = None,
) -> Location | None:
    """A Location from whatever the carrier gave; None when it gave nothing usable.

    Carriers name the same few hubs and towns over and over: a location given as plain
    texts or numbers is built once and shared (a Location is immutable)."""
    given = (city, postal_code, country, facility)
    if all(part is None or type(part) in (str, int) for part in given):
        return _shared_location(*given)
    return _location(*given)


@lru_cache(maxsize=2048)
def _shared_location(city: Any, postal_code: Any, country: Any, facility: Any) -> Location | None:
    return _location(city, postal_code, country, facility)


def _location(city: Any, postal_code: Any, country: Any, facility: Any) -> Location | None:
    parts = {
        "city": _clip(optional_text(city), 120),
        "postal_code": _clip(optional_text(postal_code), 20),
        "country": _country(country),
        "facility": _clip(optional_text(facility), 200),
    }
    if not any(parts.values()):
        return None
    return Location(**parts)


def _clip(value: str | None, limit: int) -> str | None:
    line = one_line(value) if value else None
    return line[:limit] if line else None


def _country(value: Any) -> str | None:
    candidate = optional_text(value)
    if candidate and len(candidate) == 2 and candidate.isalpha() and candidate.isascii():
        return candidate.upper()
    return None


def fold(value: str) -> str:
    """Lower case without accents, on one line, for keyword matching across languages."""
    decomposed = unicodedata.normalize("NFKD", neutralize_control_characters(value).casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).replace(
        "\u2019", "'"
    )


def resolve(
    code: str,
    *,
    table: Mapping[str, CodeMapping],
    refinements: Refinements | None = None,
    texts: Iterable[str | None] = (),
) -> CodeMapping | None:
    """The mapping of `code`, narrowed by the first refinement keyword found in `texts`;
    None when the table does not know the code."""
    mapping = table.get(code)
    if mapping is None:
        return None
    haystack = fold(" ".join(part for part in texts if part))
    for keyword, refined in (refinements or {}).get(code, ()):
        if keyword in haystack:
            return refined
    return mapping


def build_event(
    *,
    tracking_number: str,
    carrier_code: str,
    mapping: CodeMapping | None,
    occurred_at: datetime,
    description: str | None,
    location: Location | None,
    carrier_reason_code: str | None = None,
    estimated_delivery: DeliveryEstimate | None = None,
    carrier: str | None = None,
) -> NormalizedEvent:
    """One normalized event; `mapping=None` means the code is unknown: safe default.
    `carrier`: the real carrier a payload names (NormalizedEvent.carrier)."""
    recognized = mapping is not None
    status, substatus, reason = mapping if mapping is not None else (*UNKNOWN_CODE_DEFAULT, None)
    return NormalizedEvent(
        tracking_number=tracking_number,
        status=status,
        substatus=substatus,
        incident=Incident.of(reason) if reason is not None else None,
        occurred_at=occurred_at,
        description=one_line(description or ""),
        location=location,
        carrier_code=one_line(carrier_code) or UNREADABLE_CODE,
        carrier_reason_code=one_line(carrier_reason_code) if carrier_reason_code else None,
        code_recognized=recognized,
        estimated_delivery=estimated_delivery,
        carrier=carrier,
    )


def oldest_first(events: Iterable[NormalizedEvent]) -> list[NormalizedEvent]:
    """Events sorted by time; ties keep the carrier's order reversed when it listed
    newest first (the caller passes them already oldest first)."""
    return sorted(events, key=lambda event: event.occurred_at)


def with_estimate_on_newest(
    events: list[NormalizedEvent], estimated_delivery: DeliveryEstimate | None
) -> list[NormalizedEvent]:
    """The carrier's latest delivery estimate belongs to the newest event only."""
    if estimated_delivery is None or not events:
        return events
    return [*events[:-1], replace(events[-1], estimated_delivery=estimated_delivery)]
