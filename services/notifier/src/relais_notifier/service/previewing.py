"""A campaign's message rendered for one shipment without sending it (the back office's
preview, `POST /internal/preview`).

Rules:
- read-only: nothing is planned, claimed, published or sent, no customer link is
  signed (the link is a placeholder), no opt-out or quiet-hours rule is applied (the
  preview shows the words; the rules apply at sending);
- the rows are the ones a CampaignMessageRequested would plan (domain.commands): a
  broadcast in the merchant's branding, or the shipment's latest anomaly message; the
  first channel the customer has an address for is rendered;
- nothing to render (unknown merchant or contact, no anomaly message, no address) is
  None: the caller shows the count without a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from relais_contracts.topics.notification_commands import (
    CampaignContent,
    CampaignMessageRequested,
)
from relais_contracts.topics.notifications import Channel
from relais_notifier import repository
from relais_notifier.domain.commands import anomaly_campaign_rows, broadcast_rows
from relais_notifier.domain.outcomes import Notification
from relais_notifier.domain.policy import Contact
from relais_notifier.texts.rendering import Renderer, RenderingError, RenderRequest
from relais_runtime.merchants import MerchantConfig

PREVIEW_CAMPAIGN = UUID(int=0)
PLACEHOLDER_LINK = "#preview"


@dataclass(frozen=True)
class Preview:
    channel: Channel
    language: str
    subject: str | None
    text: str
    html: str | None


async def preview(
    pool: asyncpg.Pool,
    merchants: Mapping[str, MerchantConfig],
    renderer: Renderer,
    *,
    merchant_id: str,
    shipment_id: str,
    content: CampaignContent,
    now: datetime,
) -> Preview | None:
    merchant = merchants.get(merchant_id)
    if merchant is None or merchant.notification is None:
        return None
    async with pool.acquire() as connection:
        contact = await repository.get_contact(
            connection, merchant_id=merchant_id, shipment_id=shipment_id
        )
        if contact is None:
            return None
        command = CampaignMessageRequested(
            occurred_at=now,
            merchant_id=merchant_id,
            correlation_id=shipment_id,
            shipment_id=shipment_id,
            campaign_id=PREVIEW_CAMPAIGN,
            content=content,
        )
        if content.kind == "broadcast":
            rows = broadcast_rows(command, merchant.notification, now=now)
        else:
            earlier = await repository.latest_anomaly_messages(
                connection, merchant_id=merchant_id, shipment_id=shipment_id
            )
            rows = anomaly_campaign_rows(command, earlier, now=now)
    return _render(renderer, merchant, contact, rows, now=now)


def _render(
    renderer: Renderer,
    merchant: MerchantConfig,
    contact: Contact,
    rows: list[Notification],
    *,
    now: datetime,
) -> Preview | None:
    for row in rows:
        if contact.address(row.channel) is None or row.template is None or row.facts is None:
            continue
        request = RenderRequest(
            template=row.template,
            locale=contact.locale,
            merchant=merchant,
            first_name=contact.first_name,
            time_zone=contact.time_zone,
            facts=row.facts,
            link=PLACEHOLDER_LINK,
            link_expires_at=now + timedelta(days=30),
        )
        try:
            if row.channel is Channel.EMAIL:
                email = renderer.email(request)
                return Preview(row.channel, email.language, email.subject, email.text, email.html)
            return Preview(row.channel, contact.locale, None, renderer.sms(request), None)
        except RenderingError:
            return None
    return None
