"""Who is calling: carriers by their webhook credential (merchants' order API keys are
the runtime's `relais_runtime.api_keys`).

Rules:
- a carrier webhook is accepted only if one configured credential of that carrier
  verifies (shared secret, HMAC-SHA256 of the raw body, or 17TRACK's SHA-256 of the raw
  body + "/" + secret; always compared in constant time); a merchant's credential
  attributes the call to that merchant, the platform's leaves the merchant unknown;
- a scheme whose signature carries a timestamp (timestamped_hmac_sha256) is refused
  when that timestamp is further than the tolerance from the injected clock's now
  (default 5 minutes): a captured call cannot be replayed later;
- secrets are resolved once at start-up: a missing one stops start-up with
  ConfigurationError naming where it was expected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_contracts.webhooks import SignatureError, verify_signature
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.tracking import CarrierWebhookAuth, SignatureEncoding, WebhookScheme
from relais_runtime.settings import ConfigurationError


@dataclass(frozen=True)
class WebhookCredential:
    merchant_id: str
    scheme: WebhookScheme
    header: str
    secret: bytes
    encoding: SignatureEncoding
    prefix: str

    def verifies(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime | None, tolerance_s: int
    ) -> bool:
        """Constant-time; a timestamped signature without `now` is refused."""
        presented = headers.get(self.header.lower())
        if presented is None or not presented.startswith(self.prefix):
            return False
        presented = presented[len(self.prefix) :].strip()
        if self.scheme is WebhookScheme.SHARED_SECRET:
            return hmac.compare_digest(presented.encode(), self.secret)
        if self.scheme is WebhookScheme.SEVENTEEN_TRACK_SIGN:
            return hmac.compare_digest(
                presented.lower().encode(), seventeen_track_sign(body, self.secret).encode()
            )
        if self.scheme is WebhookScheme.TIMESTAMPED_HMAC_SHA256:
            if now is None:
                return False
            try:
                verify_signature(self.secret, presented, body, now, tolerance_s)
            except SignatureError:
                return False
            return True
        return hmac.compare_digest(presented.encode(), self.signature(body).encode())

    def signature(self, body: bytes) -> str:
        digest = hmac.new(self.secret, body, hashlib.sha256).digest()
        if self.encoding is SignatureEncoding.BASE64:
            return base64.b64encode(digest).decode()
        return digest.hex()


def seventeen_track_sign(body: bytes, secret: bytes) -> str:
    """17TRACK's `sign` header: hex SHA-256 of the raw body, `/`, and the security key."""
    return hashlib.sha256(body + b"/" + secret).hexdigest()


def _credential(merchant_id: str, auth: CarrierWebhookAuth, *, where: str) -> WebhookCredential:
    try:
        secret = auth.secret.resolve()
    except LookupError as error:
        raise ConfigurationError(f"{where}: secret: {error}") from None
    return WebhookCredential(
        merchant_id=merchant_id,
        scheme=auth.scheme,
        header=auth.header,
        secret=secret.encode(),
        encoding=auth.encoding,
        prefix=auth.prefix,
    )


DEFAULT_TOLERANCE_S = 300


@dataclass(frozen=True)
class WebhookAuthenticator:
    credentials: Mapping[str, tuple[WebhookCredential, ...]]
    """By carrier code."""
    tolerance_s: int = DEFAULT_TOLERANCE_S
    """How old a timestamped signature may be (either way: clocks drift)."""

    @classmethod
    def of(
        cls,
        *,
        platform: Mapping[str, CarrierWebhookAuth],
        merchants: Mapping[str, MerchantConfig],
        tolerance_s: int = DEFAULT_TOLERANCE_S,
    ) -> WebhookAuthenticator:
        credentials: dict[str, list[WebhookCredential]] = {}
        for merchant_id, config in merchants.items():
            for carrier, auth in config.tracking.carrier_webhooks.items():
                where = f"merchant {merchant_id}: tracking.carrier_webhooks.{carrier}"
                credentials.setdefault(carrier, []).append(
                    _credential(merchant_id, auth, where=where)
                )
        for carrier, auth in platform.items():
            where = f"RELAIS_CARRIER_WEBHOOKS: {carrier}"
            credentials.setdefault(carrier, []).append(
                _credential(UNKNOWN_MERCHANT, auth, where=where)
            )
        return cls(
            credentials={carrier: tuple(found) for carrier, found in credentials.items()},
            tolerance_s=tolerance_s,
        )

    def authenticate(
        self,
        *,
        carrier: str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime | None = None,
    ) -> str | None:
        """The merchant the call is from (UNKNOWN_MERCHANT for platform credentials), or
        None when no credential of that carrier verifies at `now` (without `now`, no
        timestamped signature verifies)."""
        for credential in self.credentials.get(carrier, ()):
            if credential.verifies(
                headers=headers, body=body, now=now, tolerance_s=self.tolerance_s
            ):
                return credential.merchant_id
        return None
