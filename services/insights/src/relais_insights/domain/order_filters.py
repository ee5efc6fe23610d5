"""What the back office's orders list is asked for: filters, a search, a page cursor.

Rules:
- a filter is checked before any query: a bad value is refused naming the field
  (the API answers 422, the page shows the reason); an empty form field means "any";
- dates are whole days in the merchant's time zone, both ends included;
- a search with `@` is a customer email (exact, case-insensitive); anything else is an
  order number or a tracking number, matched exactly or as a prefix;
- the list is sorted newest order first, by (ordered_at, shipment_id), and paged by
  keyset: a cursor is the position of the row a page starts after (or before), never
  an offset, so rows added meanwhile never shift or repeat a page;
- a cursor is signed (HMAC-SHA256 with the first secret, accepted under any) over the
  merchant and the position: a changed or another merchant's cursor is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets as random_secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from relais_contracts.catalogue import AnomalyType
from relais_contracts.common import CarrierCode
from relais_contracts.tracking import TrackingStatus

PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 200


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


Country = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{2}$")]
Region = Annotated[
    str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{2}-[A-Z0-9]{2}$")
]
Search = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^\S+$")
]


class ShipmentQuery(BaseModel):
    """The list's query string; unknown parameters are refused (a typo filters nothing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: TrackingStatus | None = Field(default=None, description="Current carrier status.")
    anomaly: AnomalyType | None = Field(default=None, description="An open anomaly of this type.")
    carrier: CarrierCode | None = None
    country: Country | None = Field(default=None, description="Destination country (FR).")
    region: Region | None = Field(
        default=None, description="Destination region: country and postcode prefix (FR-75)."
    )
    ordered_from: date | None = None
    ordered_to: date | None = None
    shipped_from: date | None = None
    shipped_to: date | None = None
    told: bool | None = Field(default=None, description="A message about an anomaly was sent.")
    resolved: bool | None = Field(
        default=None, description="true: had anomalies, none open; false: one is open."
    )
    q: Search | None = Field(
        default=None, description="Order number or tracking number (exact or prefix), or email."
    )
    cursor: str | None = Field(default=None, max_length=512, description="From a previous page.")
    limit: int = Field(default=PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_any(cls, data: Any) -> Any:
        """An HTML form sends every field; an empty one is no filter."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value not in ("", None)}
        return data

    @field_validator("ordered_to", "shipped_to")
    @classmethod
    def _range_in_order(cls, end: date | None, info: ValidationInfo) -> date | None:
        """Checked on the `_to` field, so a backwards range is refused naming it."""
        name = str(info.field_name).removesuffix("_to")
        start = info.data.get(f"{name}_from")
        if start is not None and end is not None and start > end:
            raise ValueError(f"{name}_to is before {name}_from")
        return end

    def filters(self) -> dict[str, str]:
        """The filters as query parameters (for links), without cursor and page size."""
        shown = self.model_dump(mode="json", exclude={"cursor", "limit"}, exclude_none=True)
        return {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in shown.items()
        }


@dataclass(frozen=True)
class Instants:
    """A day range in the merchant's zone as a half-open interval of instants."""

    start: datetime | None
    end: datetime | None


def day_range(start: date | None, end: date | None, time_zone: str) -> Instants:
    zone = ZoneInfo(time_zone)
    return Instants(
        start=datetime.combine(start, time.min, tzinfo=zone) if start else None,
        end=datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone) if end else None,
    )


@dataclass(frozen=True)
class SearchTerms:
    email: str | None = None
    prefix: str | None = None


def search_terms(q: str | None) -> SearchTerms:
    if q is None:
        return SearchTerms()
    if "@" in q:
        return SearchTerms(email=q.lower())
    return SearchTerms(prefix=q)


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string above every string starting with `prefix` (byte order, "C")."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


@dataclass(frozen=True)
class Position:
    """A row's place in the list: a page goes after it (`before` False) or before it."""

    ordered_at: datetime
    shipment_id: str
    before: bool = False


class CursorError(ValueError):
    """The cursor was not made by this service for this merchant."""


CURSOR_LABEL: Final = b"relais-office-cursor-v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Signs positions with the first secret and accepts any of them (rotation)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if isinstance(secrets, str) or not secrets:
            raise ValueError("a cursor codec needs a list of secrets, the current one first")
        self._keys = [hmac.new(s.encode(), CURSOR_LABEL, hashlib.sha256).digest() for s in secrets]

    def _mac(self, key: bytes, merchant_id: str, body: bytes) -> bytes:
        return hmac.new(key, merchant_id.encode() + b"\n" + body, hashlib.sha256).digest()[:16]

    def encode(self, merchant_id: str, position: Position) -> str:
        body = json.dumps(
            [
                position.ordered_at.astimezone(UTC).isoformat(),
                position.shipment_id,
                1 if position.before else 0,
            ],
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac(self._keys[0], merchant_id, body))}"

    def decode(self, merchant_id: str, token: str) -> Position:
        try:
            body_part, mac_part = token.split(".")
            body, mac = _unb64(body_part), _unb64(mac_part)
        except (ValueError, binascii.Error):
            raise CursorError("cursor is malformed") from None
        if not any(hmac.compare_digest(mac, self._mac(k, merchant_id, body)) for k in self._keys):
            raise CursorError("cursor is not valid for this merchant")
        try:
            ordered_at, shipment_id, before = json.loads(body)
            return Position(datetime.fromisoformat(ordered_at), str(shipment_id), bool(before))
        except (ValueError, TypeError):
            raise CursorError("cursor is malformed") from None


def random_cursor_codec() -> CursorCodec:
    """For a configuration built without secrets (tests): cursors last as long as the process."""
    return CursorCodec([random_secrets.token_urlsafe(32)])
