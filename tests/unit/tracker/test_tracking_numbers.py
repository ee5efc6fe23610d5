"""Tracking numbers recognised by carrier from their format and check digit; an order
parcel without a carrier gets one only on certainty; a `generic` event that fits parcels
of several carriers goes to those its number points to."""

from __future__ import annotations

import pytest

from relais_tracker.adapters.carriers.aliases import GENERIC
from relais_tracker.domain.shipments import narrowed_by_number, parcel_carrier
from relais_tracker.domain.tracking_numbers import candidates, carrier_of, recognize

# Valid numbers: published test numbers (jkeen/tracking_number_data, karrio connector
# tests, DHL's Unified API examples) or computed with the documented check digit.
VALID = [
    ("1Z999AA10123456784", "ups", "UPS 1Z"),
    ("1Z5R89390357567127", "ups", "UPS 1Z"),
    ("1ZA82D672031716786", "ups", "UPS 1Z"),
    ("RB123456785GB", "royal_mail", "UPU S10"),
    ("CB123456785FR", "colissimo", "UPU S10"),
    ("EW112720413FR", "colissimo", "UPU S10"),
    ("XP696982485FR", "chronopost", "UPU S10"),
    ("LX618903475GB", "royal_mail", "UPU S10"),
    ("RB123456785NL", "postnl", "UPU S10"),
    ("6A23456789012", "colissimo", "La Poste 13"),
    ("3SDEVC201611210", "postnl", "PostNL 3S"),
    ("JJD000390007788123456", "dhl", "DHL piece id"),
    ("00340434161094042557", "dhl", "DHL Paket SSCC"),
    ("3318810025", "dhl", "DHL Express"),
    ("1099255990", "dhl", "DHL Express"),
    ("771234567890", "fedex", "FedEx 12"),
    ("986578788855", "fedex", "FedEx 12"),
    ("449044304137821", "fedex", "FedEx 15"),
    ("568283610012000", "fedex", "FedEx 15"),
    ("09980000020033F", "dpd", "DPD 14+1"),
    ("09980000020034D", "dpd", "DPD 14+1"),
    ("01905002876543", "dpd", "DPD 14"),
    ("36301917596", "gls", "GLS parcel"),
    ("FR7B2Q9X", "gls", "GLS Track ID"),
    ("31234567", "mondial_relay", "Mondial Relay"),
]

# The same numbers with one check character wrong: no longer of the format.
INVALID = [
    ("1Z999AA10123456785", "UPS 1Z"),
    ("1Z1111111111111111", "UPS 1Z"),
    ("RB123456786GB", "UPU S10"),
    ("XY123456789FR", "UPU S10"),
    ("00340434161094042558", "DHL Paket SSCC"),
    ("3318810010", "DHL Express"),
    ("996578788855", "FedEx 12"),
    ("568283610012732", "FedEx 15"),
    ("09980000020033D", "DPD 14+1"),
]


@pytest.mark.parametrize(("number", "carrier", "name"), VALID, ids=[v[0] for v in VALID])
def test_a_valid_number_is_recognised_with_its_format(number: str, carrier: str, name: str) -> None:
    found = {(r.format, r.carrier) for r in recognize(number)}

    assert (name, carrier) in found
    assert carrier in candidates(number)


@pytest.mark.parametrize(("number", "name"), INVALID, ids=[v[0] for v in INVALID])
def test_a_wrong_check_digit_is_not_the_format(number: str, name: str) -> None:
    assert name not in {r.format for r in recognize(number)}


def test_spaces_and_case_do_not_matter() -> None:
    assert carrier_of(" 1z999aa1 0123456784 ") == "ups"
    assert carrier_of("cb 123 456 785 fr") == "colissimo"


@pytest.mark.parametrize(
    ("number", "carrier"),
    [
        ("1Z999AA10123456784", "ups"),
        ("CB123456785FR", "colissimo"),
        ("XP696982485FR", "chronopost"),
        ("RB123456785GB", "royal_mail"),
        ("6A23456789012", "colissimo"),
        ("3SDEVC201611210", "postnl"),
        ("00340434161094042557", "dhl"),
    ],
)
def test_a_distinctive_format_names_its_carrier_with_certainty(number: str, carrier: str) -> None:
    assert carrier_of(number) == carrier


@pytest.mark.parametrize(
    "number",
    [
        "771234567890",  # FedEx 12 and a GLS parcel number alike
        "3318810025",  # DHL Express mod 7: one plain number in seven passes
        "01905002876543",  # 14 digits, no check digit
        "31234567",
        "RB123456785XX",  # S10 shape of no known operator
        "1Z999AA10123456785",
        "PARCEL-42",
    ],
)
def test_plain_digits_or_unknown_shapes_name_no_carrier(number: str) -> None:
    assert carrier_of(number) is None


def test_candidates_put_distinctive_formats_first_without_repeats() -> None:
    assert candidates("771234567890") == ("fedex", "gls")
    assert candidates("PARCEL-42") == ()


def test_a_parcel_without_carrier_gets_the_certain_one_else_generic() -> None:
    assert parcel_carrier(None, "1Z999AA10123456784") == "ups"
    assert parcel_carrier(None, "771234567890") == GENERIC
    assert parcel_carrier(None, None) is None
    assert parcel_carrier("Mondial Relay", "31234567") == "mondial_relay"
    assert parcel_carrier("laposte", "1Z999AA10123456784") == "colissimo", "a named carrier wins"


def test_a_generic_event_fitting_parcels_of_several_carriers_goes_where_its_number_points() -> None:
    parcels = {"ups", "colissimo"}

    assert narrowed_by_number(GENERIC, "1Z999AA10123456784", parcels) == {"ups"}
    assert narrowed_by_number(GENERIC, "CB123456785FR", parcels) == {"colissimo"}
    assert narrowed_by_number(GENERIC, "PARCEL-42", parcels) == parcels, "no hint: all of them"
    assert narrowed_by_number(GENERIC, "1Z999AA10123456784", {"ups", GENERIC}) == {"ups", GENERIC}
    assert narrowed_by_number(GENERIC, "1Z999AA10123456784", {"colissimo"}) == {"colissimo"}


def test_a_named_carrier_is_never_narrowed_or_widened() -> None:
    assert narrowed_by_number("ups", "CB123456785FR", {"ups", "colissimo", GENERIC}) == {
        "ups",
        GENERIC,
    }
    assert narrowed_by_number("dhl", "1Z999AA10123456784", {"ups"}) == set()
