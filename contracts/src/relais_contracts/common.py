"""Value types shared by several topics: money, contact, addresses, delivery mode.

Rules:
- money is a decimal string (never a float) with an ISO 4217 currency;
- countries are ISO 3166-1 alpha-2, languages BCP 47 (`fr-FR`, `en`), time zones IANA;
- phone numbers are E.164 (`+33612345678`): the producer normalizes them;
- email addresses are checked by shape only (no deliverability check);
- personal data is marked (see relais_contracts.privacy);
- free text refuses control characters (see relais_contracts.text).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Final, Self
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from relais_contracts.envelope import Contract
from relais_contracts.privacy import PERSONAL
from relais_contracts.text import (
    SINGLE_LINE,
    OptionalMultiLine,
    OptionalSingleLine,
    SingleLine,
)

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2, upper case (`FR`, `GB`)."""

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""ISO 4217, upper case (`EUR`, `GBP`)."""

Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
"""BCP 47 language, optionally with a region: `fr`, `fr-FR`, `en-GB`."""

Email = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$"),
    SINGLE_LINE,
]
"""An email address, checked by shape only (and free of control characters: it is a
mail header)."""

PhoneE164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
"""A phone number in E.164 form."""

CarrierCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
"""Relais's code of a carrier (see KNOWN_CARRIERS); aggregators may pass others."""

TrackingNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
"""A carrier tracking number as the carrier prints it, without spaces."""

KNOWN_CARRIERS: Final = (
    "colissimo",
    "chronopost",
    "dhl",
    "ups",
    "fedex",
    "dpd",
    "gls",
    "mondial_relay",
    "royal_mail",
    "postnl",
    "inpost",
    "evri",
    "bpost",
    "correos",
)
"""Carriers with a dedicated adapter in the tracker; any other code goes through the
generic Relais format."""

CARRIER_DISPLAY_NAMES: Final = {
    "colissimo": "Colissimo",
    "chronopost": "Chronopost",
    "dhl": "DHL",
    "ups": "UPS",
    "fedex": "FedEx",
    "dpd": "DPD",
    "gls": "GLS",
    "mondial_relay": "Mondial Relay",
    "royal_mail": "Royal Mail",
    "postnl": "PostNL",
    "inpost": "InPost",
    "evri": "Evri",
    "bpost": "bpost",
    "correos": "Correos",
    "colis_prive": "Colis Privé",
}


def carrier_display_name(code: str) -> str:
    """The carrier's name as customers know it; another code is shown title-cased."""
    return CARRIER_DISPLAY_NAMES.get(code, code.replace("_", " ").title())


@lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        # Without any tz database on the host we cannot tell: accept the shape.
        return not available_timezones()
    return True


def _check_zone(name: str) -> str:
    if not _known_zone(name):
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name


TimeZoneName = Annotated[
    str,
    StringConstraints(pattern=r"^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$"),
    AfterValidator(_check_zone),
]
"""An IANA time zone name (`Europe/Paris`, `America/Argentina/Buenos_Aires`, `UTC`)."""

Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=15, decimal_places=4),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,11}(\.[0-9]{1,4})?$",
            "description": 'A non-negative decimal amount as a string, e.g. "49.90".',
        }
    ),
]


class Money(Contract):
    """An amount in one currency; never a float."""

    amount: Amount
    currency: CurrencyCode


class PostalAddress(Contract):
    """A postal address; the fields of a person's address are personal data."""

    name: OptionalSingleLine = Field(
        default=None, max_length=200, description="Recipient.", json_schema_extra=PERSONAL
    )
    company: OptionalSingleLine = Field(default=None, max_length=200, json_schema_extra=PERSONAL)
    line1: SingleLine = Field(min_length=1, max_length=200, json_schema_extra=PERSONAL)
    line2: OptionalSingleLine = Field(default=None, max_length=200, json_schema_extra=PERSONAL)
    postal_code: SingleLine = Field(min_length=1, max_length=20, json_schema_extra=PERSONAL)
    city: SingleLine = Field(min_length=1, max_length=120, json_schema_extra=PERSONAL)
    region: OptionalSingleLine = Field(default=None, max_length=120)
    country: CountryCode
    instructions: OptionalMultiLine = Field(
        default=None,
        max_length=500,
        description="Delivery instructions (door code, floor...); may span lines.",
        json_schema_extra=PERSONAL,
    )


class PickupPointKind(StrEnum):
    RELAY = "relay"
    """A shop of a relay network (Mondial Relay Point Relais, Chronopost Pickup...)."""
    LOCKER = "locker"
    POST_OFFICE = "post_office"
    CARRIER_DEPOT = "carrier_depot"
    STORE = "store"
    """The merchant's own shop (click and collect)."""


class PickupPoint(Contract):
    """A place where the customer collects the parcel; a business address, not personal."""

    point_id: SingleLine = Field(
        min_length=1, max_length=64, description="The network's id of the point."
    )
    network: CarrierCode = Field(description="The carrier or network running the point.")
    kind: PickupPointKind
    name: SingleLine = Field(min_length=1, max_length=200)
    address: PostalAddress
    opening_hours: OptionalMultiLine = Field(
        default=None, max_length=500, description="As the network publishes them; may span lines."
    )
    hold_days: int | None = Field(
        default=None,
        ge=1,
        le=60,
        description="Days the point keeps the parcel after its arrival; the hold deadline "
        "itself is set on the shipment state when the parcel arrives.",
    )


class DeliveryMode(StrEnum):
    HOME = "home"
    PICKUP_POINT = "pickup_point"


class Delivery(Contract):
    """Where the parcel goes: an address for home delivery, a pickup point otherwise."""

    mode: DeliveryMode
    address: PostalAddress | None = Field(
        default=None,
        description="Required for home delivery; for a pickup point, the customer's own "
        "address if known (used by a redelivery at home).",
        json_schema_extra=PERSONAL,
    )
    pickup_point: PickupPoint | None = Field(
        default=None, description="Required when mode is pickup_point."
    )

    @model_validator(mode="after")
    def _mode_has_its_destination(self) -> Self:
        if self.mode is DeliveryMode.HOME and self.address is None:
            raise ValueError("home delivery needs an address")
        if self.mode is DeliveryMode.PICKUP_POINT and self.pickup_point is None:
            raise ValueError("pickup point delivery needs a pickup_point")
        return self


class CustomerContact(Contract):
    """How to reach the customer and in which language and time zone.

    Either contact may be missing: the notifier then falls back to the other channel
    or suppresses the message with reason `no_contact`.
    """

    customer_id: OptionalSingleLine = Field(
        default=None, max_length=128, description="The merchant's customer reference."
    )
    first_name: OptionalSingleLine = Field(default=None, max_length=100, json_schema_extra=PERSONAL)
    last_name: OptionalSingleLine = Field(default=None, max_length=100, json_schema_extra=PERSONAL)
    email: Email | None = Field(default=None, json_schema_extra=PERSONAL)
    phone: PhoneE164 | None = Field(default=None, json_schema_extra=PERSONAL)
    locale: Locale = Field(description="Language of every message and page shown to them.")
    time_zone: TimeZoneName = Field(description="For quiet hours and for dates shown to them.")


class TimeSlot(Contract):
    """A half-open time interval [start, end)."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("a time slot must end after it starts")
        return self
