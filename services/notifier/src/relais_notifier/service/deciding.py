"""Deciding what becomes of a claimed row: what the policy needs is read under a per-customer
advisory lock, so two messages to one customer cannot both pass the frequency cap.

The customer is known by keyed hashes under the opt-out pepper (adapters.customer_hashes):
under the current pepper and each previous one, so a pepper rotation neither forgets an
opt-out nor resets the frequency cap; an opt-out found only under a previous pepper is
recorded again under the current one (re-hash on read).
"""

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
        customer_keys = self._links.hashes.customer_keys(
            merchant_id=row.merchant_id, contact=contact
        )
        if not customer_keys:
            return Circumstances(contact=contact, customer_key=None)
        await repository.lock_customer(connection, customer_keys=customer_keys)
        opted_out = await self._opted_out(connection, row.merchant_id, contact)
        recent: list[datetime] = []
        if settings.frequency_cap is not None:
            recent = await repository.list_recent_sends(
                connection,
                merchant_id=row.merchant_id,
                customer_keys=customer_keys,
                since=now - timedelta(hours=settings.frequency_cap.window_hours),
                exclude_trigger=row.trigger_ref,
            )
        return Circumstances(
            contact=contact, customer_key=customer_keys[0], opted_out=opted_out, recent=recent
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

    async def _opted_out(
        self, connection: DbConnection, merchant_id: str, contact: Contact
    ) -> frozenset[Channel]:
        """The channels the contact's addresses opted out of, under any pepper; an opt-out
        found only under a previous pepper is recorded again under the current one (with
        its date), so it still matches once that pepper is retired."""
        hashes = {
            channel.value: self._links.hashes.address_hashes(
                merchant_id=merchant_id, address=address
            )
            for channel in Channel
            if (address := contact.address(channel))
        }
        found = await repository.list_opt_outs(connection, merchant_id=merchant_id, hashes=hashes)
        for channel in sorted({opt_out.channel for opt_out in found}):
            matched = [opt_out for opt_out in found if opt_out.channel == channel]
            current = hashes[channel][0]
            if all(opt_out.address_hash != current for opt_out in matched):
                await repository.create_opt_out(
                    connection,
                    merchant_id=merchant_id,
                    channel=channel,
                    address_hash=current,
                    at=min(opt_out.created_at for opt_out in matched),
                )
        return frozenset(Channel(opt_out.channel) for opt_out in found)
