"""Back-office campaigns: counting a selection, sending it, projecting its progress.

Rules:
- sending is one transaction: the campaign's row, one CampaignMessageRequested per
  selected shipment written to the outbox in batches (service relays them to
  relais.notification-commands.v1), and the audit entry (ids and counts only); a
  failure leaves nothing half-sent;
- a command's event id is `campaign_message_id(merchant, campaign, shipment)`: a
  campaign's commands are one per shipment, whatever the relay redelivers;
- the notifier owns sending and its rules; insights only asks, then counts the
  outcomes carrying the campaign id (projected in the consumer's transaction);
- a resend publishes MessageResendRequested for one earlier message of one of the
  merchant's shipments, audited; the notifier ignores an id that is not the shipment's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from relais_contracts.envelope import Event
from relais_contracts.topics import notification_commands
from relais_contracts.topics.notification_commands import (
    CampaignContent,
    CampaignMessageRequested,
    MessageResendRequested,
    campaign_message_id,
)
from relais_insights import campaign_repository
from relais_insights.campaign_repository import Target
from relais_insights.domain.campaigns import Campaign, CampaignSelection, campaign_message_of
from relais_insights.service.office_users import SignedInUser, record_audit
from relais_runtime.db import DbConnection
from relais_runtime.merchants import MerchantConfig
from relais_runtime.outbox import enqueue

LIST_LIMIT = 100


async def project_event(connection: DbConnection, event: Event) -> None:
    """A notifier outcome carrying a campaign id updates that message's row."""
    message = campaign_message_of(event)
    if message is not None:
        await campaign_repository.update_campaign_message(
            connection, merchant_id=event.merchant_id, message=message
        )


@dataclass(frozen=True)
class Sender:
    """Who sends: a signed-in user, or an API key (audited by its id)."""

    user: SignedInUser | None = None
    key_id: str | None = None

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"user:{self.user.user_id}"
        return f"key:{self.key_id}"


def _command(
    merchant_id: str, campaign: Campaign, target: Target, *, now: datetime
) -> CampaignMessageRequested:
    return CampaignMessageRequested(
        event_id=campaign_message_id(merchant_id, campaign.campaign_id, target.shipment_id),
        occurred_at=now,
        merchant_id=merchant_id,
        correlation_id=target.shipment_id,
        shipment_id=target.shipment_id,
        campaign_id=campaign.campaign_id,
        content=campaign.content,
        order_number=target.order_number or None,
    )


@dataclass(frozen=True)
class Campaigns:
    pool: asyncpg.Pool

    async def count(self, merchant: MerchantConfig, selection: CampaignSelection) -> int:
        async with self.pool.acquire() as connection:
            return await campaign_repository.count_selection(
                connection,
                merchant_id=merchant.merchant_id,
                selection=selection,
                time_zone=merchant.time_zone,
            )

    async def first_target(
        self, merchant: MerchantConfig, selection: CampaignSelection
    ) -> Target | None:
        """The shipment a preview renders for: the newest selected one."""
        async with self.pool.acquire() as connection:
            async for batch in campaign_repository.list_selection(
                connection,
                merchant_id=merchant.merchant_id,
                selection=selection,
                time_zone=merchant.time_zone,
            ):
                return batch[0] if batch else None
        return None

    async def send(
        self,
        merchant: MerchantConfig,
        *,
        name: str,
        selection: CampaignSelection,
        content: CampaignContent,
        sender: Sender,
        now: datetime,
    ) -> Campaign:
        """Record the campaign and ask the notifier for one message per selected shipment."""
        merchant_id = merchant.merchant_id
        campaign = Campaign(
            campaign_id=uuid4(),
            name=name,
            content=content,
            selection=selection,
            requested=0,
            created_by=sender.label,
            created_at=now,
        )
        async with self.pool.acquire() as connection, connection.transaction():
            await campaign_repository.create_campaign(
                connection, merchant_id=merchant_id, campaign=campaign
            )
            requested = 0
            async for batch in campaign_repository.list_selection(
                connection,
                merchant_id=merchant_id,
                selection=selection,
                time_zone=merchant.time_zone,
            ):
                commands = [_command(merchant_id, campaign, t, now=now) for t in batch]
                await enqueue(connection, topic=notification_commands.TOPIC, events=commands)
                requested += len(commands)
            await campaign_repository.update_requested(
                connection,
                merchant_id=merchant_id,
                campaign_id=campaign.campaign_id,
                requested=requested,
            )
            details: dict[str, str | int] = {"content": content.kind, "requested": requested}
            if sender.key_id is not None:
                details["api_key"] = sender.key_id
            await record_audit(
                connection,
                sender.user,
                "campaign.send",
                str(campaign.campaign_id),
                details,
                merchant_id=merchant_id,
                at=now,
            )
        return replace(campaign, requested=requested)

    async def campaign(self, *, merchant_id: str, campaign_id: UUID) -> Campaign | None:
        async with self.pool.acquire() as connection:
            return await campaign_repository.get_campaign(
                connection, merchant_id=merchant_id, campaign_id=campaign_id
            )

    async def campaigns(self, *, merchant_id: str) -> list[Campaign]:
        async with self.pool.acquire() as connection:
            return await campaign_repository.list_campaigns(
                connection, merchant_id=merchant_id, limit=LIST_LIMIT
            )

    async def resend(
        self,
        user: SignedInUser,
        *,
        shipment_id: str,
        notification_id: UUID,
        now: datetime,
    ) -> bool:
        """False when the shipment is not the user's merchant's (nothing is published)."""
        merchant_id = user.merchant_id
        async with self.pool.acquire() as connection, connection.transaction():
            if not await campaign_repository.shipment_exists(
                connection, merchant_id=merchant_id, shipment_id=shipment_id
            ):
                return False
            resend_id = uuid4()
            command = MessageResendRequested(
                event_id=resend_id,
                occurred_at=now,
                merchant_id=merchant_id,
                correlation_id=shipment_id,
                shipment_id=shipment_id,
                resend_id=resend_id,
                notification_id=notification_id,
            )
            await enqueue(connection, topic=notification_commands.TOPIC, events=[command])
            await record_audit(
                connection,
                user,
                "message.resend",
                str(notification_id),
                {"resend_id": str(resend_id)},
                at=now,
            )
        return True
