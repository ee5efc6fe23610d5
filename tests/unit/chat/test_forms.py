"""What the customer types: phone numbers, addresses, days and slots."""

from __future__ import annotations

import pytest

from relais_chat.domain.forms import (
    normalize_phone,
    parse_address,
    parse_callback,
    parse_day_field,
    parse_slot_field,
)
from tests.unit.chat.conftest import CONTEXT


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 6 12 34 56 78", "GB", "+33612345678"),
        ("0033612345678", "FR", "+33612345678"),
        ("07911 123456", "GB", "+447911123456"),
        ("0470 12 34 56", "BE", "+32470123456"),
        ("12345", "FR", None),
        ("not a number", "FR", None),
        ("06 12 34", "FR", None),
    ],
)
def test_phone_numbers_are_normalized_to_e164(raw: str, country: str, expected: str | None) -> None:
    assert normalize_phone(raw, country=country) == expected


def test_an_address_needs_street_postal_code_and_city() -> None:
    parsed = parse_address({"line1": " ", "postal_code": "", "city": ""}, CONTEXT)
    assert parsed.value is None
    assert parsed.errors == {"line1": "required", "postal_code": "required", "city": "required"}


@pytest.mark.parametrize(
    ("country", "postal_code", "valid"),
    [
        ("FR", "75011", True),
        ("FR", "7501", False),
        ("GB", "SW1A 1AA", True),
        ("NL", "1011 AB", True),
        ("BE", "75011", False),
    ],
)
def test_postal_codes_follow_their_country(country: str, postal_code: str, valid: bool) -> None:
    parsed = parse_address(
        {"line1": "1 High Street", "postal_code": postal_code, "city": "Town", "country": country},
        CONTEXT,
    )
    assert (parsed.value is not None) is valid
    if not valid:
        assert parsed.errors == {"postal_code": "postal_code_invalid"}


def test_an_unsupported_country_is_refused() -> None:
    parsed = parse_address(
        {"line1": "1 Main St", "postal_code": "10001", "city": "NY", "country": "US"}, CONTEXT
    )
    assert parsed.errors == {"country": "country_unsupported"}


def test_whitespace_is_collapsed_and_postal_codes_upper_cased() -> None:
    parsed = parse_address(
        {
            "line1": "  10   Downing  Street ",
            "postal_code": "sw1a 2aa",
            "city": "London",
            "country": "gb",
        },
        CONTEXT,
    )
    assert parsed.value is not None
    assert parsed.value["line1"] == "10 Downing Street"
    assert parsed.value["postal_code"] == "SW1A 2AA"
    assert parsed.value["country"] == "GB"


@pytest.mark.parametrize(
    ("day", "error"),
    [
        ("2026-11-02", "date_out_of_range"),  # today
        ("2026-11-03", None),  # tomorrow
        ("2026-11-08", "date_sunday"),
        ("2026-11-16", None),  # 14 days ahead
        ("2026-11-17", "date_out_of_range"),
        ("03/11/2026", "date_invalid"),
        ("", "required"),
    ],
)
def test_days_are_between_tomorrow_and_two_weeks_never_on_sunday(
    day: str, error: str | None
) -> None:
    parsed = parse_day_field({"day": day}, CONTEXT)
    assert parsed.errors == ({"day": error} if error else {})


def test_a_slot_is_in_the_customers_time_zone() -> None:
    parsed = parse_slot_field({"day": "2026-11-05", "period": "morning"}, CONTEXT)
    assert parsed.value == {
        "slot": {"start": "2026-11-05T09:00:00+01:00", "end": "2026-11-05T12:00:00+01:00"}
    }


def test_a_callback_reports_every_wrong_field_at_once() -> None:
    parsed = parse_callback({"phone": "123", "day": "2026-11-08", "period": "night"}, CONTEXT)
    assert parsed.errors == {"phone": "phone_invalid", "day": "date_sunday", "period": "required"}
