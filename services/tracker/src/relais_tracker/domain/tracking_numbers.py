"""Which carrier a tracking number is of, from its format and check digit (pure, no I/O).

Rules:
- a format is a pattern and, where the carrier documents one, a check digit: a number
  whose check digit is wrong is not of that format;
- a format is *distinctive* when no other common carrier issues numbers of its shape
  (letters in fixed places, a carrier's own prefix: UPS `1Z`, UPU S10, PostNL `3S`,
  DHL `JJD`, La Poste's digit-letter-11-digits); plain runs of digits never are (DHL
  Express, FedEx, DPD, GLS and Mondial Relay all issue them);
- `carrier_of` names a carrier only when the number fits distinctive formats of exactly
  one carrier: an order parcel or an update that omits its carrier gets one only on
  that certainty (else it stays `generic`, which matches any carrier);
- `candidates` lists every carrier whose formats fit (distinctive ones first): a hint
  for disambiguation and for operators, never a certainty;
- numbers are compared without spaces, in upper case.

Carriers are Relais codes (relais_tracker.adapters.carriers.aliases); a postal operator
without an adapter gets its folded name (`royal_mail`, `postnl`...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

Check = Callable[[re.Match[str]], bool]
CarrierOf = Callable[[re.Match[str]], str | None]


@dataclass(frozen=True)
class Recognition:
    carrier: str
    format: str
    """The format's name, e.g. `UPS 1Z` or `UPU S10`."""
    distinctive: bool
    check_digit: bool
    """True when the format has a check digit and the number's is right."""


@dataclass(frozen=True)
class NumberFormat:
    name: str
    pattern: re.Pattern[str]
    carrier: CarrierOf
    check: Check | None = None
    distinctive: bool = False

    def recognize(self, number: str) -> Recognition | None:
        match = self.pattern.fullmatch(number)
        if match is None or (self.check is not None and not self.check(match)):
            return None
        carrier = self.carrier(match)
        if carrier is None:
            return None
        return Recognition(carrier, self.name, self.distinctive, self.check is not None)


def _value(char: str) -> int:
    """A character as UPS's check digit reads it: digits as such, letters by
    (code point - 3) mod 10 (A=2, B=3, ... I=0, J=1...)."""
    return int(char) if char.isdigit() else (ord(char) - 3) % 10


def ups_check(match: re.Match[str]) -> bool:
    """UPS 1Z: over the 15 characters after `1Z`, odd positions (0-based) count twice;
    the check digit brings the sum to a multiple of 10."""
    body = match["body"]
    total = sum(_value(char) * (2 if index % 2 else 1) for index, char in enumerate(body))
    return (10 - total % 10) % 10 == int(match["check"])


S10_WEIGHTS: Final = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check(match: re.Match[str]) -> bool:
    """UPU S10: the 8 serial digits weighted 8 6 4 2 3 5 9 7, sum mod 11; check digit
    11 - remainder, with 10 written 0 and 11 written 5."""
    total = sum(
        int(digit) * weight for digit, weight in zip(match["serial"], S10_WEIGHTS, strict=True)
    )
    remainder = total % 11
    check = 0 if remainder == 1 else 5 if remainder == 0 else 11 - remainder
    return check == int(match["check"])


def mod7_check(match: re.Match[str]) -> bool:
    """DHL Express waybill: the serial modulo 7 is the check digit."""
    return int(match["serial"]) % 7 == int(match["check"])


def fedex12_check(match: re.Match[str]) -> bool:
    """FedEx Express 12 digits: the 11 first weighted 3 1 7 3 1 7..., sum mod 11 mod 10."""
    weights = ((3, 1, 7) * 4)[:11]
    total = sum(int(digit) * weight for digit, weight in zip(match["serial"], weights, strict=True))
    return total % 11 % 10 == int(match["check"])


def mod10_check(match: re.Match[str], *, odd_weight: int) -> bool:
    """Mod 10 with odd positions (0-based) weighted `odd_weight`: the check digit brings
    the sum to a multiple of 10."""
    serial = match["serial"]
    total = sum(int(d) * (odd_weight if i % 2 else 1) for i, d in enumerate(serial))
    return (10 - total % 10) % 10 == int(match["check"])


def gs1_check(match: re.Match[str]) -> bool:
    """GS1 (SSCC): from the right, digits weighted 3 1 3 1...; the check digit brings the
    sum to a multiple of 10."""
    serial = match["serial"]
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(serial)))
    return (10 - total % 10) % 10 == int(match["check"])


_ISO7064_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def mod37_36_check(match: re.Match[str]) -> bool:
    """DPD: ISO/IEC 7064 MOD 37,36 over the 14 digits gives the check character."""
    modulus, product = 36, 36
    for char in match["serial"]:
        product += _ISO7064_ALPHABET.index(char)
        if product > modulus:
            product -= modulus
        product *= 2
        if product > modulus:
            product -= modulus + 1
    check = modulus + 1 - product
    return _ISO7064_ALPHABET[0 if check == modulus else check] == match["check"]


# Source: the postal operator of each UPU member country (UPU S10 standard: the last two
# letters are the ISO 3166 country of the issuing operator), as listed in
# jkeen/tracking_number_data couriers/s10.json; Relais codes through the alias table.
# France: La Poste issues Colissimo numbers; Chronopost (La Poste's express arm) uses the
# service indicators X* (karrio modules/connectors/chronopost tests: XP696982485FR).
S10_OPERATORS: Final[dict[str, str]] = {
    "AT": "austrian_post",
    "BE": "bpost",
    "CH": "swiss_post",
    "DE": "dhl",
    "ES": "correos",
    "FR": "colissimo",
    "GB": "royal_mail",
    "IE": "an_post",
    "IT": "poste_italiane",
    "LU": "post_luxembourg",
    "NL": "postnl",
    "PL": "poczta_polska",
    "PT": "ctt",
    "US": "usps",
}


def _s10_operator(match: re.Match[str]) -> str | None:
    if match["country"] == "FR" and match["service"].startswith("X"):
        return "chronopost"
    return S10_OPERATORS.get(match["country"])


def _carrier(code: str) -> CarrierOf:
    return lambda _match: code


# Source, per format:
# - UPS 1Z, UPU S10, DHL Express (mod 7 and JJD/JVGL piece ids), FedEx 12 and 15 digits,
#   DPD 14 digits + ISO 7064 check character: jkeen/tracking_number_data (couriers/*.json
#   and CHECKSUM_ALGORITHMS.md; DPD's from DPD Parcel Label Specification 2.4.1);
# - DHL Paket 20 digits: a GS1 SSCC (application identifier 00) with DHL's company
#   prefix 340434 (developer.dhl.com Shipment Tracking examples, 00340434...);
# - La Poste / Colissimo 13 characters (a digit, a letter, 11 digits: 6A..., 8R...) and
#   Mondial Relay's 8-digit shipment number: developer.laposte.fr Suivi v2 and the
#   Mondial Relay WSI2 `Expedition` field (8 digits);
# - PostNL `3S` barcodes (3S + 4-character customer code + serial): PostNL Barcode API
#   (developer.postnl.nl, e.g. 3SDEVC201611210);
# - GLS parcel numbers (11 or 12 digits) and 8-character Track IDs: GLS Track and Trace
#   API (parcel number / TrackID), as replayed in karrio modules/connectors/gls tests.
FORMATS: Final[tuple[NumberFormat, ...]] = (
    NumberFormat(
        "UPS 1Z",
        re.compile(r"1Z(?P<body>[0-9A-Z]{15})(?P<check>[0-9])"),
        _carrier("ups"),
        ups_check,
        distinctive=True,
    ),
    NumberFormat(
        "UPU S10",
        re.compile(
            r"(?P<service>[A-Z]{2})(?P<serial>[0-9]{8})(?P<check>[0-9])(?P<country>[A-Z]{2})"
        ),
        _s10_operator,
        s10_check,
        distinctive=True,
    ),
    NumberFormat(
        "La Poste 13", re.compile(r"[0-9][A-Z][0-9]{11}"), _carrier("colissimo"), distinctive=True
    ),
    NumberFormat(
        "PostNL 3S", re.compile(r"3S[A-Z0-9]{4}[0-9]{5,11}"), _carrier("postnl"), distinctive=True
    ),
    NumberFormat(
        "DHL piece id", re.compile(r"J(?:JD|VGL)[0-9]{9,24}"), _carrier("dhl"), distinctive=True
    ),
    NumberFormat(
        "DHL Paket SSCC",
        re.compile(r"00(?P<serial>340434[0-9]{11})(?P<check>[0-9])"),
        _carrier("dhl"),
        gs1_check,
        distinctive=True,
    ),
    NumberFormat(
        "DHL Express",
        re.compile(r"(?P<serial>[0-9]{9,10})(?P<check>[0-9])"),
        _carrier("dhl"),
        mod7_check,
    ),
    NumberFormat(
        "FedEx 12",
        re.compile(r"(?P<serial>[0-9]{11})(?P<check>[0-9])"),
        _carrier("fedex"),
        fedex12_check,
    ),
    NumberFormat(
        "FedEx 15",
        re.compile(r"(?P<serial>[0-9]{14})(?P<check>[0-9])"),
        _carrier("fedex"),
        lambda match: mod10_check(match, odd_weight=3),
    ),
    NumberFormat(
        "DPD 14+1",
        re.compile(r"(?P<serial>[0-9]{14})(?P<check>[0-9A-Z])"),
        _carrier("dpd"),
        mod37_36_check,
    ),
    NumberFormat("DPD 14", re.compile(r"[0-9]{14}"), _carrier("dpd")),
    NumberFormat("GLS parcel", re.compile(r"[0-9]{11,12}"), _carrier("gls")),
    NumberFormat(
        "GLS Track ID",
        re.compile(r"(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*[0-9])[A-Z0-9]{8}"),
        _carrier("gls"),
    ),
    NumberFormat("Mondial Relay", re.compile(r"[0-9]{8}"), _carrier("mondial_relay")),
)


def normalized(tracking_number: str) -> str:
    return re.sub(r"\s+", "", tracking_number).upper()


def recognize(tracking_number: str) -> tuple[Recognition, ...]:
    """Every format the number fits (check digit right where there is one)."""
    number = normalized(tracking_number)
    found = (number_format.recognize(number) for number_format in FORMATS)
    return tuple(recognition for recognition in found if recognition is not None)


def carrier_of(tracking_number: str) -> str | None:
    """The carrier when the number fits distinctive formats of exactly one carrier."""
    carriers = {r.carrier for r in recognize(tracking_number) if r.distinctive}
    return carriers.pop() if len(carriers) == 1 else None


def candidates(tracking_number: str) -> tuple[str, ...]:
    """Every carrier whose formats the number fits, distinctive ones first, no repeats."""
    ordered = sorted(recognize(tracking_number), key=lambda r: not r.distinctive)
    return tuple(dict.fromkeys(recognition.carrier for recognition in ordered))
