"""The links a message carries, and keyed hashes that name a customer without their data.

Rules:
- chat `{public_chat_base_url}/c/{token}` (subject: the anomaly id), tracking
  `/t/{token}` and survey `/s/{token}` (subject: the shipment id), all signed with
  LinkPurpose and the platform's link secret, issued at send time, so a deferred
  message's link is valid for the full period from when the customer gets it;
- unsubscribe `{public_notifier_base_url}/u/{token}`: its subject is
  `<channel>:<address hash>`, so the token (readable, only signed) never holds the
  address itself;
- hashes are HMAC-SHA256 under the link secret, scoped by merchant: equal for the same
  address, useless to anyone without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from relais_contracts.topics.notifications import Channel, LinkKind
from relais_notifier.domain.policy import Contact
from relais_runtime.links import LinkPurpose, LinkSigner

LINK_PATHS = {
    LinkKind.CHAT: ("c", LinkPurpose.CHAT),
    LinkKind.TRACKING_PAGE: ("t", LinkPurpose.TRACKING),
    LinkKind.SURVEY: ("s", LinkPurpose.SURVEY),
}


@dataclass(frozen=True)
class CustomerLink:
    url: str
    expires_at: datetime


class LinkMaker:
    def __init__(
        self,
        *,
        secret: str,
        public_chat_base_url: str,
        public_notifier_base_url: str,
        max_age: timedelta,
        unsubscribe_max_age: timedelta,
    ) -> None:
        self._secret = secret.encode()
        self.signer = LinkSigner(secret=secret, max_age=max_age)
        self.unsubscribe_signer = LinkSigner(secret=secret, max_age=unsubscribe_max_age)
        self._chat_base = public_chat_base_url.rstrip("/")
        self._notifier_base = public_notifier_base_url.rstrip("/")
        self._max_age = max_age

    def link(
        self, *, merchant_id: str, kind: LinkKind, subject: str, now: datetime
    ) -> CustomerLink:
        path, purpose = LINK_PATHS[kind]
        token = self.signer.sign(
            merchant_id=merchant_id, purpose=purpose, subject=subject, issued_at=now
        )
        # The signer keeps whole seconds: the link expires max_age after that second.
        issued = now.replace(microsecond=0)
        return CustomerLink(
            url=f"{self._chat_base}/{path}/{token}", expires_at=issued + self._max_age
        )

    def unsubscribe_url(
        self, *, merchant_id: str, channel: Channel, address: str, now: datetime
    ) -> str:
        subject = f"{channel.value}:{self.address_hash(merchant_id=merchant_id, address=address)}"
        token = self.unsubscribe_signer.sign(
            merchant_id=merchant_id, purpose=LinkPurpose.UNSUBSCRIBE, subject=subject, issued_at=now
        )
        return f"{self._notifier_base}/u/{token}"

    def address_hash(self, *, merchant_id: str, address: str) -> str:
        return self._hash("address", merchant_id, address.strip().lower())

    def customer_key(self, *, merchant_id: str, contact: Contact) -> str | None:
        """One customer of one merchant: their customer id, else email, else phone."""
        if contact.customer_id:
            return self._hash("customer", merchant_id, contact.customer_id)
        identity = contact.email or contact.phone
        return self._hash("address", merchant_id, identity.strip().lower()) if identity else None

    def _hash(self, kind: str, merchant_id: str, value: str) -> str:
        message = f"{kind}\x1f{merchant_id}\x1f{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
