"""Merchant API keys: who is calling an HTTP API with `Authorization: Bearer <key>`.

Rules:
- the merchant configuration holds only the SHA-256 of each key (`tracking.api_keys`);
  keys are random with at least 128 bits of entropy, so a fast hash suffices and the
  lookup by hash leaks nothing usable about other keys;
- one key belongs to one merchant: a hash configured for two merchants stops
  start-up with ConfigurationError naming both;
- the caller's merchant comes from the key, never from the request: a service
  compares it with the merchant the request is about (one merchant can never read
  another's data);
- a key's scopes say which APIs it opens (merchants.tracking.ApiScope); a service
  checks the scope of its API after the merchant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.tracking import LEGACY_SCOPES, ApiScope
from relais_runtime.settings import ConfigurationError


def api_key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyHolder:
    merchant_id: str
    key_id: str
    scopes: frozenset[ApiScope]


@dataclass(frozen=True)
class ApiKeyRing:
    """SHA-256 of each key -> the merchant it belongs to, and what the key may open."""

    merchants_by_hash: Mapping[str, str]
    holders_by_hash: Mapping[str, KeyHolder] | None = None

    @classmethod
    def of(cls, merchants: Mapping[str, MerchantConfig]) -> ApiKeyRing:
        holders: dict[str, KeyHolder] = {}
        for merchant_id, config in merchants.items():
            for key in config.tracking.api_keys:
                if key.sha256 in holders:
                    raise ConfigurationError(
                        f"merchants {holders[key.sha256].merchant_id} and {merchant_id}: "
                        f"tracking.api_keys: key {key.id!r} is configured twice"
                    )
                holders[key.sha256] = KeyHolder(merchant_id, key.id, key.granted)
        owners = {digest: holder.merchant_id for digest, holder in holders.items()}
        return cls(merchants_by_hash=owners, holders_by_hash=holders)

    def merchant_of(self, key: str) -> str | None:
        return self.merchants_by_hash.get(api_key_sha256(key)) if key else None

    def merchant_of_header(self, authorization: str | None) -> str | None:
        """The merchant of an `Authorization: Bearer <key>` header, None if absent or unknown."""
        return self.merchant_of(_bearer(authorization))

    def holder_of(self, key: str) -> KeyHolder | None:
        """The merchant and scopes of a key; a ring built without holders grants legacy scopes."""
        if not key:
            return None
        digest = api_key_sha256(key)
        if self.holders_by_hash is not None:
            return self.holders_by_hash.get(digest)
        merchant_id = self.merchants_by_hash.get(digest)
        return None if merchant_id is None else KeyHolder(merchant_id, "", LEGACY_SCOPES)

    def scopes_of(self, key: str) -> frozenset[ApiScope]:
        """What a key opens; nothing for an unknown key."""
        holder = self.holder_of(key)
        return holder.scopes if holder is not None else frozenset()

    def holder_of_header(self, authorization: str | None) -> KeyHolder | None:
        return self.holder_of(_bearer(authorization))


def _bearer(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""
