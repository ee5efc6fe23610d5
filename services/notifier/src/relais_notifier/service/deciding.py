"""Deciding what becomes of a claimed row: what the policy needs is read under a per-customer
advisory lock, so two messages to one customer cannot both pass the frequency cap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from relais_contracts.topics.notifications import Channel
from relais_notifier import repository
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.domain.outcomes import Notification
from relais_notifier.domain.policy import Contact, Decision, DueMessage, decide
from relais_runtime.db import DbConnection
from relais_runtime.merchants.notification import NotificationSettings


@dataclass(frozen=True)
class Circumstances:
    """What the policy weighs about the customer; opt-outs and recent sends are only read
    for a customer known by a key."""

    contact: Contact | None
    customer_key: str | None
    opted_out: frozenset[Channel] = frozenset()
    recent: Sequence[datetime] = ()


class Decider:
    def __init__(self, *, links: LinkMaker, contact_wait: timedelta) -> None:
        self._links = links
        self._contact_wait = contact_wait

    async def circumstances(
        self,
        connection: DbConnection,
        row: Notification,
        settings: NotificationSettings,
        *,
        now: datetime,
    ) -> Circumstances:
        """Read in this transaction; the customer stays locked until it ends."""
        contact = await repository.get_contact(
            connection, merchant_id=row.merchant_id, shipment_id=row.shipment_id
        )
        if contact is None:
            return Circumstances(contact=None, customer_key=None)
        customer_key = self._links.customer_key(merchant_id=row.merchant_id, contact=contact)
        if customer_key is None:
            return Circumstances(contact=contact, customer_key=None)
        await repository.lock_customer(connection, customer_key=customer_key)
        opted_out = await repository.list_opt_outs(
            connection,
            merchant_id=row.merchant_id,
            hashes=self._address_hashes(row.merchant_id, contact),
        )
        recent: list[datetime] = []
        if settings.frequency_cap is not None:
            recent = await repository.list_recent_sends(
                connection,
                merchant_id=row.merchant_id,
                customer_key=customer_key,
                since=now - timedelta(hours=settings.frequency_cap.window_hours),
                exclude_trigger=row.trigger_ref,
            )
        return Circumstances(
            contact=contact, customer_key=customer_key, opted_out=opted_out, recent=recent
        )

    def decide(
        self,
        row: Notification,
        circumstances: Circumstances,
        settings: NotificationSettings,
        *,
        now: datetime,
    ) -> Decision:
        return decide(
            message=DueMessage(
                channel=row.channel,
                trigger_kind=row.trigger_kind,
                urgent=row.urgent,
                planned_at=row.planned_at,
            ),
            contact=circumstances.contact,
            settings=settings,
            opted_out=circumstances.opted_out,
            recent=circumstances.recent,
            now=now,
            contact_wait=self._contact_wait,
        )

    def _address_hashes(self, merchant_id: str, contact: Contact) -> dict[str, str]:
        hashes = {}
        for channel in Channel:
            address = contact.address(channel)
            if address:
                hashes[channel.value] = self._links.address_hash(
                    merchant_id=merchant_id, address=address
                )
        return hashes
