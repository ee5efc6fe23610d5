"""Parsing what the customer typed into one form field: valid value or errors.

Rules:
- phone numbers are parsed and normalized to E.164 with `phonenumbers`, read in the
  customer's country when written without a country code; an impossible number is
  refused;
- a postal address needs a street, a postal code in its country's shape (POSTAL_CODES)
  and a city; the country is one of POSTAL_CODES;
- a day (redelivery) or a slot's day (callback) is between tomorrow and
  MAX_DAYS_AHEAD days ahead, in the customer's time zone, and never a Sunday;
- errors are keys of the pages' words (relais_chat.ui.words), one per form field: the page
  says what is wrong next to the field;
- control characters: a field holding one no keyboard types (NUL, ESC, DEL...) is
  refused (`control_characters`); line breaks and tabs are whitespace: one-line fields
  fold them into spaces, text areas (text, comment, note) keep their line breaks as
  LF (browsers send CRLF) and fold the rest, so what is published is always valid
  SingleLine / MultiLine text (relais_contracts.text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import phonenumbers

from relais_chat.domain.scenarios import FieldKind
from relais_contracts.text import CONTROL_CHARACTERS, normalize_line_breaks

MAX_DAYS_AHEAD: Final = 14
MAX_TEXT: Final = 1000

POSTAL_CODES: Final[dict[str, str]] = {
    "FR": r"^\d{5}$",
    "BE": r"^\d{4}$",
    "LU": r"^\d{4}$",
    "CH": r"^\d{4}$",
    "DE": r"^\d{5}$",
    "AT": r"^\d{4}$",
    "ES": r"^\d{5}$",
    "IT": r"^\d{5}$",
    "PT": r"^\d{4}-\d{3}$",
    "NL": r"^\d{4} ?[A-Z]{2}$",
    "GB": r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$",
    "IE": r"^[A-Z\d]{3} ?[A-Z\d]{4}$",
}
"""Countries the address form accepts, with the shape of their postal codes (the
national postal operators' published formats)."""

PERIODS: Final[dict[str, tuple[time, time]]] = {
    "morning": (time(9, 0), time(12, 0)),
    "afternoon": (time(14, 0), time(18, 0)),
    "evening": (time(18, 0), time(20, 0)),
}
"""Slots the customer can pick, in their own time zone."""


@dataclass(frozen=True)
class FormContext:
    today: date
    time_zone: ZoneInfo
    country: str
    pickup_network: str | None = None


@dataclass(frozen=True)
class Parsed:
    """A valid value (JSON-ready) or the errors by field name, never both."""

    value: dict[str, Any] | None
    errors: Mapping[str, str]


def _ok(value: dict[str, Any]) -> Parsed:
    return Parsed(value=value, errors={})


def _fail(errors: Mapping[str, str]) -> Parsed:
    return Parsed(value=None, errors=dict(errors))


def _clean(form: Mapping[str, str], name: str, *, limit: int = 200) -> str:
    return " ".join(form.get(name, "").split())[:limit]


def _text_area(form: Mapping[str, str], name: str) -> str:
    """A text area's value: line breaks as LF, other whitespace (TAB...) as spaces."""
    lines = normalize_line_breaks(form.get(name, "")).split("\n")
    return "\n".join(" ".join(line.split()) for line in lines).strip()[:MAX_TEXT]


def _untypable(value: str) -> bool:
    """Holds a control character that is not whitespace (NUL, ESC, DEL, C1...)."""
    return any(not found.group().isspace() for found in CONTROL_CHARACTERS.finditer(value))


def refused_characters(form: Mapping[str, str]) -> dict[str, str]:
    """`control_characters` for every field holding a character no keyboard types."""
    return {name: "control_characters" for name, value in form.items() if _untypable(value)}


def parse_field(kind: FieldKind, form: Mapping[str, str], context: FormContext) -> Parsed:
    if refused := refused_characters(form):
        return _fail(refused)
    parsers = {
        FieldKind.ADDRESS: parse_address,
        FieldKind.PHONE: parse_phone_field,
        FieldKind.DATE: parse_day_field,
        FieldKind.SLOT: parse_slot_field,
        FieldKind.TEXT: parse_text_field,
        FieldKind.PICKUP_POINT: parse_pickup_point,
    }
    return parsers[kind](form, context)


def is_empty(kind: FieldKind, form: Mapping[str, str]) -> bool:
    names = {FieldKind.TEXT: ("text",), FieldKind.PHONE: ("phone",), FieldKind.DATE: ("day",)}
    return all(not form.get(name, "").strip() for name in names.get(kind, ()))


def parse_address(form: Mapping[str, str], context: FormContext) -> Parsed:
    country = _clean(form, "country").upper() or context.country
    address: dict[str, str | None] = {
        "line1": _clean(form, "line1"),
        "line2": _clean(form, "line2") or None,
        "postal_code": _clean(form, "postal_code", limit=20).upper(),
        "city": _clean(form, "city", limit=120),
        "country": country,
        "instructions": _clean(form, "instructions", limit=500) or None,
    }
    errors: dict[str, str] = {
        name: "required" for name in ("line1", "postal_code", "city") if not address[name]
    }
    if country not in POSTAL_CODES:
        errors["country"] = "country_unsupported"
    elif address["postal_code"] and not re.match(
        POSTAL_CODES[country], str(address["postal_code"])
    ):
        errors["postal_code"] = "postal_code_invalid"
    return _fail(errors) if errors else _ok(address)


def normalize_phone(raw: str, *, country: str) -> str | None:
    """E.164 form of a possible, valid number; None otherwise."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_phone_field(form: Mapping[str, str], context: FormContext) -> Parsed:
    raw = _clean(form, "phone", limit=40)
    if not raw:
        return _fail({"phone": "required"})
    phone = normalize_phone(raw, country=context.country)
    return _ok({"phone": phone}) if phone else _fail({"phone": "phone_invalid"})


def parse_day(raw: str, context: FormContext) -> tuple[date | None, str | None]:
    if not raw.strip():
        return None, "required"
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        return None, "date_invalid"
    first, last = allowed_days(context)
    if not first <= day <= last:
        return None, "date_out_of_range"
    if day.isoweekday() == 7:
        return None, "date_sunday"
    return day, None


def allowed_days(context: FormContext) -> tuple[date, date]:
    return context.today + timedelta(days=1), context.today + timedelta(days=MAX_DAYS_AHEAD)


def parse_day_field(form: Mapping[str, str], context: FormContext) -> Parsed:
    day, error = parse_day(form.get("day", ""), context)
    if error or day is None:
        return _fail({"day": error or "date_invalid"})
    return _ok({"day": day.isoformat()})


def slot_of(day: date, period: str, zone: ZoneInfo) -> dict[str, str]:
    start, end = PERIODS[period]
    return {
        "start": datetime.combine(day, start, zone).isoformat(),
        "end": datetime.combine(day, end, zone).isoformat(),
    }


def parse_slot_field(form: Mapping[str, str], context: FormContext) -> Parsed:
    day, error = parse_day(form.get("day", ""), context)
    period = form.get("period", "")
    errors = {"day": error} if error else {}
    if period not in PERIODS:
        errors["period"] = "required"
    if errors or day is None:
        return _fail(errors)
    return _ok({"slot": slot_of(day, period, context.time_zone)})


def parse_text_field(form: Mapping[str, str], context: FormContext) -> Parsed:
    text = _text_area(form, "text")
    return _ok({"text": text}) if text else _fail({"text": "required"})


def parse_pickup_point(form: Mapping[str, str], context: FormContext) -> Parsed:
    point_id = _clean(form, "point_id", limit=64)
    name = _clean(form, "point_name")
    address = parse_address(form, context)
    errors = dict(address.errors)
    if not point_id:
        errors["point_id"] = "required"
    if not name:
        errors["point_name"] = "required"
    if errors or address.value is None:
        return _fail(errors)
    return _ok(
        {
            "point_id": point_id,
            "network": context.pickup_network or "relay",
            "kind": "relay",
            "name": name,
            "address": {**address.value, "instructions": None},
        }
    )


def parse_csat(form: Mapping[str, str]) -> Parsed:
    if refused := refused_characters(form):
        return _fail(refused)
    raw = form.get("csat", "")
    if raw not in {"1", "2", "3", "4", "5"}:
        return _fail({"csat": "csat_required"})
    comment = _text_area(form, "comment") or None
    return _ok({"csat": int(raw), "comment": comment})


def parse_callback(form: Mapping[str, str], context: FormContext) -> Parsed:
    if refused := refused_characters(form):
        return _fail(refused)
    phone = parse_phone_field(form, context)
    slot = parse_slot_field(form, context)
    errors = {**phone.errors, **slot.errors}
    if errors or phone.value is None or slot.value is None:
        return _fail(errors)
    note = _text_area(form, "note") or None
    return _ok({**phone.value, **slot.value, "note": note})
