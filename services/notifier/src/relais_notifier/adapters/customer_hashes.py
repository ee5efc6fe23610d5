"""Keyed hashes that name a customer without their data: opt-outs and frequency-cap keys.

Rules:
- HMAC-SHA256 under the opt-out pepper (RELAIS_OPT_OUT_PEPPER), scoped by merchant:
  equal for the same address, useless to anyone without the pepper;
- the pepper is no link secret: rotating RELAIS_CUSTOMER_LINK_SECRETS changes no hash,
  so every recorded opt-out and the frequency cap keep matching;
- a replaced pepper moves to RELAIS_OPT_OUT_PREVIOUS_PEPPERS: every `..._hashes` /
  `..._keys` answer holds the hash under the current pepper first, then under each
  previous one, and lookups match any of them ("re-hash on read": an opt-out found under
  a previous pepper is recorded again under the current one, repository.find_opt_outs),
  so rotating the pepper loses no opt-out either (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from relais_notifier.domain.policy import Contact


class CustomerHashes:
    def __init__(self, *, pepper: str, previous_peppers: Sequence[str] = ()) -> None:
        if isinstance(previous_peppers, str):
            raise ValueError("previous_peppers is a list of peppers")
        if any(len(value) < 32 for value in (pepper, *previous_peppers)):
            raise ValueError("every opt-out pepper must be at least 32 characters")
        self._peppers = tuple(value.encode() for value in (pepper, *previous_peppers))

    def address_hash(self, *, merchant_id: str, address: str) -> str:
        """Under the current pepper: what a new opt-out records."""
        return self.address_hashes(merchant_id=merchant_id, address=address)[0]

    def address_hashes(self, *, merchant_id: str, address: str) -> tuple[str, ...]:
        """Under the current pepper, then each previous one: what a lookup matches."""
        return self._hashes("address", merchant_id, address.strip().lower())

    def customer_key(self, *, merchant_id: str, contact: Contact) -> str | None:
        """One customer of one merchant (their customer id, else email, else phone),
        under the current pepper: what a notification row records."""
        keys = self.customer_keys(merchant_id=merchant_id, contact=contact)
        return keys[0] if keys else None

    def customer_keys(self, *, merchant_id: str, contact: Contact) -> tuple[str, ...]:
        """The customer's key under the current pepper, then each previous one."""
        if contact.customer_id:
            return self._hashes("customer", merchant_id, contact.customer_id)
        identity = contact.email or contact.phone
        return self._hashes("address", merchant_id, identity.strip().lower()) if identity else ()

    def _hashes(self, kind: str, merchant_id: str, value: str) -> tuple[str, ...]:
        message = f"{kind}\x1f{merchant_id}\x1f{value}".encode()
        return tuple(
            hmac.new(pepper, message, hashlib.sha256).hexdigest() for pepper in self._peppers
        )
