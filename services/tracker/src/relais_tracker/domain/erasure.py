"""Erasing one customer of one merchant (pure: no I/O).

Rules:
- a customer is named by their email address, compared normalised: trimmed and
  lower-cased, in Python as in SQL (`lower(btrim(...))`): `  Camille.Martin@Example.FR `
  and `camille.martin@example.fr` are the same customer; a text without exactly one `@`
  with something on both sides names nobody;
- the tracker keeps what the business needs without identity and removes the rest, table
  by table, as ERASURE_PLAN says: an erased order keeps its id, number, state, parcel
  count and dates, and loses its snapshot (customer, addresses, items); its shipments,
  their carrier history, the carrier events held for their tracking numbers and the
  outbox copies of their events go; the audit record keeps counts and a salted hash;
- the audit record never holds the address: a random salt per record and a memory-hard
  hash (scrypt) of the normalised address, so a record can be matched to an address
  someone already knows, and a list of records cannot be turned back into addresses
  cheaply;
- every erased shipment gets a tombstone on the shipment state (its key, a null value),
  and every erased order one on the orders topic (keyed by order too), each under an
  event id derived from the erasure and the key: writing the same erasure twice makes
  the same outbox rows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from uuid import UUID

from relais_contracts import ids

SALT_BYTES: Final = 16
_SCRYPT: Final = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class InvalidEmail(ValueError):
    """The text given does not name a customer by email."""


def normalized_email(raw: str) -> str:
    """The address as the tracker compares it; InvalidEmail when it is not one."""
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain or any(c.isspace() for c in email):
        raise InvalidEmail("not an email address")
    return email


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def email_digest(email: str, *, salt: bytes) -> str:
    """scrypt of the normalised address under `salt`, hex; the same for any spelling of it."""
    return hashlib.scrypt(normalized_email(email).encode(), salt=salt, **_SCRYPT).hex()


def digest_matches(email: str, *, salt: bytes, digest: str) -> bool:
    return hmac.compare_digest(email_digest(email, salt=salt), digest)


class Treatment(StrEnum):
    """What an erasure does to a column of the tracker's schema."""

    KEPT = "kept"
    """Not personal: kept for the business (ids, states, counts, dates)."""
    NULLED = "nulled"
    """Personal: set to NULL, the row stays."""
    ROW_DELETED = "row_deleted"
    """The whole row goes (the shipment's, its events', its held events', its outbox rows)."""


ERASURE_PLAN: Final[dict[str, dict[str, Treatment]]] = {
    "orders": {
        "merchant_id": Treatment.KEPT,
        "order_id": Treatment.KEPT,
        "state": Treatment.KEPT,
        "as_of": Treatment.KEPT,
        "order_number": Treatment.KEPT,
        "parcel_count": Treatment.KEPT,
        "snapshot": Treatment.NULLED,
        "updated_at": Treatment.KEPT,
        "erased_at": Treatment.KEPT,
    },
    "shipments": {"*": Treatment.ROW_DELETED},
    "tracking_events": {"*": Treatment.ROW_DELETED},
    "pending_tracking_events": {"*": Treatment.ROW_DELETED},
    "outbox": {"*": Treatment.ROW_DELETED},
}
"""Table -> column (`*`: every column) -> treatment, for the rows of the erased customer.
Tables absent here hold nothing about a customer (processed_events: ids;
unknown_carrier_codes: carrier codes; erasures: the audit record itself)."""


def personal_columns() -> dict[str, frozenset[str]]:
    """Per table, the columns an erasure removes (nulled or deleted with their row)."""
    return {
        table: frozenset(column for column, how in columns.items() if how is not Treatment.KEPT)
        for table, columns in ERASURE_PLAN.items()
        if any(how is not Treatment.KEPT for how in columns.values())
    }


@dataclass(frozen=True)
class ErasureCounts:
    """How much of the customer the tracker held; no identity in it."""

    orders: int
    shipments: int
    tracking_events: int = 0
    held_events: int = 0
    outbox_rows: int = 0

    @property
    def found(self) -> bool:
        return self.orders > 0 or self.shipments > 0


def tombstone_event_id(erasure_id: UUID, *, topic: str, key: bytes) -> UUID:
    """The outbox event id of one tombstone of one erasure (stable for a retry)."""
    return ids.derived_id("erasure-tombstone", str(erasure_id), topic, key.decode())


def merchant_key(merchant_id: str, identifier: str) -> bytes:
    """`<merchant_id>/<id>`: the Kafka key of a shipment's or an order's events."""
    return f"{merchant_id}/{identifier}".encode()
