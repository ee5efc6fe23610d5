"""Tracking: how a merchant authenticates to the tracker's order API and, when the
merchant has its own carrier accounts, how its carriers sign their webhooks.

Rules:
- order API keys are stored as the SHA-256 of the key, never the key: keys are
  random with at least 128 bits of entropy (`generate with secrets.token_urlsafe`),
  so a fast hash is enough (a slow password hash such as argon2 only protects
  low-entropy secrets); a key id names the key for rotation and logs;
- a key has scopes (orders: the tracker's order API, insights: the insights API,
  backoffice: the back office's API); a key declared without `scopes` keeps the access
  keys had before scopes existed: orders and insights;
- a carrier webhook credential names its secret by reference (SecretRef), never by
  value; it is checked the way that carrier signs its calls: a shared secret in a
  header, or an HMAC-SHA256 of the raw body in a header (hex or base64, with an
  optional prefix such as `sha256=`), or a timestamped HMAC that is refused once older
  than the tracker's tolerance (replay protection), or 17TRACK's SHA-256 of the body
  and the secret;
- carrier credentials can also be set once for the platform (tracker settings):
  a call that matches a merchant's credential is attributed to that merchant, one
  that matches the platform's is of unknown merchant until its tracking number is
  matched.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator

from relais_runtime.merchants.base import SecretRef, Section
from relais_runtime.merchants.tracking_page import TrackingPage


class WebhookScheme(StrEnum):
    SHARED_SECRET = "shared_secret"  # noqa: S105 (a scheme name, not a secret)
    """The header carries the secret itself (e.g. UPS Track Alert's `credential`)."""
    HMAC_SHA256 = "hmac_sha256"
    """The header carries HMAC-SHA256(secret, raw body) (e.g. FedEx's `fdx-signature`)."""
    TIMESTAMPED_HMAC_SHA256 = "timestamped_hmac_sha256"
    """The header carries `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
    (relais_contracts.webhooks, as Relais signs its own webhooks); a timestamp older than
    the receiver's tolerance is refused (replay protection)."""
    SEVENTEEN_TRACK_SIGN = "seventeen_track_sign"
    """The header carries the hex SHA-256 of the raw body, then `/`, then the secret (no
    HMAC: 17TRACK's push `sign` header, https://asset.17track.net/api/document/v2.4_en,
    section Webhook); it cannot be checked for freshness."""


class SignatureEncoding(StrEnum):
    HEX = "hex"
    BASE64 = "base64"


class CarrierWebhookAuth(Section):
    scheme: WebhookScheme
    header: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$", description="Header name.")
    secret: SecretRef
    encoding: SignatureEncoding = SignatureEncoding.HEX
    """How an HMAC signature is written (ignored for a shared secret)."""
    prefix: str = Field(default="", max_length=20)
    """Text before the signature in the header, e.g. `sha256=`."""


class ApiScope(StrEnum):
    ORDERS = "orders"
    INSIGHTS = "insights"
    BACKOFFICE = "backoffice"


LEGACY_SCOPES = frozenset({ApiScope.ORDERS, ApiScope.INSIGHTS})
"""What a key declared without `scopes` may do (every key could, before scopes)."""


class ApiKey(Section):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex SHA-256 of the key.")
    scopes: tuple[ApiScope, ...] | None = Field(default=None, min_length=1)
    """None (not declared): orders and insights."""

    @property
    def granted(self) -> frozenset[ApiScope]:
        return LEGACY_SCOPES if self.scopes is None else frozenset(self.scopes)


class Tracking(Section):
    api_keys: tuple[ApiKey, ...] = ()
    page: TrackingPage = TrackingPage()
    """The tracking and lookup pages: merchant content blocks and frame ancestors."""
    carrier_webhooks: dict[str, CarrierWebhookAuth] = Field(default_factory=dict)
    """By carrier code (relais_contracts.common.CarrierCode)."""

    @field_validator("api_keys")
    @classmethod
    def _distinct_keys(cls, value: tuple[ApiKey, ...]) -> tuple[ApiKey, ...]:
        if len({key.id for key in value}) != len(value):
            raise ValueError("two api keys share an id")
        if len({key.sha256 for key in value}) != len(value):
            raise ValueError("two api keys share a sha256")
        return value

    @field_validator("carrier_webhooks")
    @classmethod
    def _carrier_codes(cls, value: dict[str, CarrierWebhookAuth]) -> dict[str, CarrierWebhookAuth]:
        import re

        for carrier in value:
            if not re.match(r"^[a-z][a-z0-9_]{1,31}$", carrier):
                raise ValueError(f"{carrier!r} is not a carrier code like dhl or mondial_relay")
        return value
