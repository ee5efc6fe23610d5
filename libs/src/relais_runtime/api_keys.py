"""Merchant API keys: who is calling an HTTP API with `Authorization: Bearer <key>`.

Rules:
- the merchant configuration holds only the SHA-256 of each key (`tracking.api_keys`);
  keys are random with at least 128 bits of entropy, so a fast hash suffices and the
  lookup by hash leaks nothing usable about other keys;
- one key belongs to one merchant: a hash configured for two merchants stops
  start-up with ConfigurationError naming both;
- the caller's merchant comes from the key, never from the request: a service
  compares it with the merchant the request is about (one merchant can never read
  another's data).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from relais_runtime.merchants import MerchantConfig
from relais_runtime.settings import ConfigurationError


def api_key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeyRing:
    """SHA-256 of each key -> the merchant it belongs to."""

    merchants_by_hash: Mapping[str, str]

    @classmethod
    def of(cls, merchants: Mapping[str, MerchantConfig]) -> ApiKeyRing:
        owners: dict[str, str] = {}
        for merchant_id, config in merchants.items():
            for key in config.tracking.api_keys:
                if key.sha256 in owners:
                    raise ConfigurationError(
                        f"merchants {owners[key.sha256]} and {merchant_id}: tracking.api_keys: "
                        f"key {key.id!r} is configured twice"
                    )
                owners[key.sha256] = merchant_id
        return cls(merchants_by_hash=owners)

    def merchant_of(self, key: str) -> str | None:
        return self.merchants_by_hash.get(api_key_sha256(key)) if key else None

    def merchant_of_header(self, authorization: str | None) -> str | None:
        """The merchant of an `Authorization: Bearer <key>` header, None if absent or unknown."""
        scheme, _, key = (authorization or "").partition(" ")
        return self.merchant_of(key.strip()) if scheme.lower() == "bearer" else None
