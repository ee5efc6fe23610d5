"""Signed, expiring customer links (chat and tracking pages).

Rules:
- a link token carries the merchant id, the purpose and the subject (an anomaly,
  a shipment...), signed (itsdangerous, HMAC) with the first of the signer's secrets
  and accepted under any of them: the list is how a secret rotates (the new one first,
  the old one after it until what it signed has expired; docs/security.md);
- one signer per secret purpose: customer links (RELAIS_CUSTOMER_LINK_SECRETS) and
  dashboard sessions (RELAIS_SESSION_SECRETS) never share a secret;
- a token is valid only for the purpose it was made for and until it expires;
- a chat link's subject is an anomaly id, or `broadcast_chat_subject(...)` for a
  merchant's broadcast: `broadcast:<campaign message id>:<scenario id>:<shipment id>`
  (the scenario the broadcast chose, signed with the rest, so a customer cannot pick
  another one);
- the verifier returns the merchant id from inside the signed token, so a page
  only ever loads that merchant's data: one merchant's link can never open
  another merchant's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from itsdangerous import BadSignature, URLSafeSerializer


class LinkPurpose(StrEnum):
    CHAT = "chat"
    TRACKING = "tracking"
    SURVEY = "survey"
    UNSUBSCRIBE = "unsubscribe"
    DASHBOARD = "dashboard"
    """A merchant's insights dashboard session (cookie), subject: the merchant id."""


BROADCAST_CHAT_PREFIX = "broadcast:"


@dataclass(frozen=True)
class BroadcastChat:
    """What a broadcast's chat link opens: its scenario, for one shipment."""

    campaign_message_id: UUID
    scenario_id: str
    shipment_id: str


def broadcast_chat_subject(chat: BroadcastChat) -> str:
    return (
        f"{BROADCAST_CHAT_PREFIX}{chat.campaign_message_id}:{chat.scenario_id}:{chat.shipment_id}"
    )


def parse_broadcast_chat_subject(subject: str) -> BroadcastChat | None:
    """The broadcast a chat link's subject names; None for an anomaly's (or a bad) subject."""
    if not subject.startswith(BROADCAST_CHAT_PREFIX):
        return None
    parts = subject.removeprefix(BROADCAST_CHAT_PREFIX).split(":", 2)
    if len(parts) != 3 or not all(parts):
        return None
    try:
        message_id = UUID(parts[0])
    except ValueError:
        return None
    return BroadcastChat(campaign_message_id=message_id, scenario_id=parts[1], shipment_id=parts[2])


class LinkError(Exception):
    """The link is not valid; `expired` tells an expired link from a forged one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class LinkClaims:
    merchant_id: str
    purpose: LinkPurpose
    subject: str
    issued_at: datetime


class LinkSigner:
    """Issue and verify tokens; times come from the injected clock, not the wall."""

    def __init__(self, *, secrets: Sequence[str], max_age: timedelta) -> None:
        if isinstance(secrets, str) or not secrets:
            raise ValueError("a signer needs a list of secrets, the current one first")
        if any(len(secret) < 32 for secret in secrets):
            raise ValueError("every link secret must be at least 32 characters")
        # itsdangerous signs with the last key and verifies with every one of them.
        self._serializer = URLSafeSerializer(list(reversed(secrets)), salt="relais-customer-link")
        self._max_age = max_age

    def sign(
        self, *, merchant_id: str, purpose: LinkPurpose, subject: str, issued_at: datetime
    ) -> str:
        return self._serializer.dumps(
            {"m": merchant_id, "p": purpose.value, "s": subject, "t": int(issued_at.timestamp())}
        )

    def verify(self, token: str, *, purpose: LinkPurpose, now: datetime) -> LinkClaims:
        """Check signature, purpose and age; raises LinkError."""
        try:
            data = self._serializer.loads(token)
        except BadSignature:
            raise LinkError("this link is not valid") from None
        if not isinstance(data, dict) or data.get("p") != purpose.value:
            raise LinkError("this link is not meant for this page")
        issued_at = datetime.fromtimestamp(int(data["t"]), tz=UTC)
        if now - issued_at > self._max_age:
            raise LinkError("this link has expired", expired=True)
        return LinkClaims(
            merchant_id=str(data["m"]), purpose=purpose, subject=str(data["s"]), issued_at=issued_at
        )
