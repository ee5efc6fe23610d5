"""Who may open a page: the signed link decides, never the URL or a cookie.

Rules:
- the merchant is the one inside the signed token: every read that follows is
  scoped by it, so one merchant's link never opens another merchant's data;
- the signature is checked first (a forged or altered token is `invalid` and
  names no merchant), then the purpose, then the age against the merchant's own
  `chat.link_max_age_days` (an old link is `expired` and names its merchant, so the
  page can show that merchant's contact);
- a token of a merchant this platform does not serve is `invalid`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from relais_runtime.links import LinkClaims, LinkError, LinkPurpose, LinkSigner
from relais_runtime.merchants import MerchantConfig

PLATFORM_MAX_AGE = timedelta(days=3650)
"""The signer accepts any age; the merchant's max age is applied after the signature."""


@dataclass(frozen=True)
class Granted:
    claims: LinkClaims
    merchant: MerchantConfig


class Refusal(StrEnum):
    INVALID = "invalid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Denied:
    reason: Refusal
    merchant: MerchantConfig | None


def make_signer(secrets: Sequence[str]) -> LinkSigner:
    """Customer links signed with any of `secrets` (RELAIS_CUSTOMER_LINK_SECRETS) open."""
    return LinkSigner(secrets=secrets, max_age=PLATFORM_MAX_AGE)


def check_link(
    *,
    signer: LinkSigner,
    token: str,
    purpose: LinkPurpose,
    now: datetime,
    merchants: Mapping[str, MerchantConfig],
) -> Granted | Denied:
    try:
        claims = signer.verify(token, purpose=purpose, now=now)
    except (LinkError, KeyError, TypeError, ValueError):
        return Denied(reason=Refusal.INVALID, merchant=None)
    merchant = merchants.get(claims.merchant_id)
    if merchant is None:
        return Denied(reason=Refusal.INVALID, merchant=None)
    if now - claims.issued_at > timedelta(days=merchant.chat.link_max_age_days):
        return Denied(reason=Refusal.EXPIRED, merchant=merchant)
    return Granted(claims=claims, merchant=merchant)
