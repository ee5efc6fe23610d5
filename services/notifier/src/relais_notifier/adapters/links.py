"""The links a message carries.

Rules:
- chat `{public_chat_base_url}/c/{token}` (subject: the anomaly id), tracking
  `/t/{token}` and survey `/s/{token}` (subject: the shipment id), all signed with
  LinkPurpose and the first of the customer link secrets (RELAIS_CUSTOMER_LINK_SECRETS;
  the chat accepts any of them), issued at send time, so a deferred message's link is
  valid for the full period from when the customer gets it;
- unsubscribe `{public_notifier_base_url}/u/{token}`: its subject is
  `<channel>:<address hash>`, so the token (readable, only signed) never holds the
  address itself; the hash is keyed by the opt-out pepper (adapters.customer_hashes),
  never by a link secret, so rotating the link secrets leaves every opt-out matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from relais_contracts.topics.notifications import Channel, LinkKind
from relais_notifier.adapters.customer_hashes import CustomerHashes
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
        secrets: Sequence[str],
        hashes: CustomerHashes,
        public_chat_base_url: str,
        public_notifier_base_url: str,
        max_age: timedelta,
        unsubscribe_max_age: timedelta,
    ) -> None:
        self.hashes = hashes
        self.signer = LinkSigner(secrets=secrets, max_age=max_age)
        self.unsubscribe_signer = LinkSigner(secrets=secrets, max_age=unsubscribe_max_age)
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
        address_hash = self.hashes.address_hash(merchant_id=merchant_id, address=address)
        token = self.unsubscribe_signer.sign(
            merchant_id=merchant_id,
            purpose=LinkPurpose.UNSUBSCRIBE,
            subject=f"{channel.value}:{address_hash}",
            issued_at=now,
        )
        return f"{self._notifier_base}/u/{token}"
