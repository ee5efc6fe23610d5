"""From a back-office command to the send-log rows it asks for (pure).

Rules:
- an anomaly-scenario message keeps the anomaly as its trigger (kind `anomaly`, ref the
  anomaly id: its resolution makes the message stale, and the chat link opens that
  anomaly's conversation) under the purpose `campaign-<campaign id>`;
- a broadcast's trigger is `campaign` / `broadcast`, ref
  `campaign_message_id(merchant, campaign, shipment)`, purpose `campaign`; its link
  opens the chosen chat scenario for that shipment (a chat link whose subject is
  `links.broadcast_chat_subject`), else the tracking page; the scenario is also kept
  in the facts;
- a resend repeats an earlier row under the purpose `resend-<resend id>`;
- every key is `ids.notification_key(trigger ref, channel, purpose)`, as for the
  notifier's own messages, so a channel fallback keeps the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from relais_contracts.ids import notification_id, notification_key
from relais_contracts.topics.notification_commands import (
    BroadcastContent,
    CampaignMessageRequested,
    MessageResendRequested,
    campaign_message_id,
)
from relais_contracts.topics.notifications import Channel, LinkKind, TriggerKind
from relais_notifier.domain.outcomes import Notification, NotificationStatus
from relais_notifier.domain.triggers import BroadcastWording, MessageFacts
from relais_runtime.links import BroadcastChat, broadcast_chat_subject
from relais_runtime.merchants.notification import NotificationSettings

BROADCAST_TEMPLATE = "broadcast"
"""The catalogue entry that lays a merchant's broadcast out (CTA, SMS form)."""


def _row(
    *,
    merchant_id: str,
    shipment_id: str,
    correlation_id: str,
    channel: Channel,
    trigger_kind: TriggerKind,
    trigger_ref: UUID,
    purpose: str,
    now: datetime,
    **rest: Any,
) -> Notification:
    key = notification_key(trigger_ref, channel.value, purpose)
    return Notification(
        idempotency_key=key,
        notification_id=notification_id(key),
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        correlation_id=correlation_id,
        channel=channel,
        trigger_kind=trigger_kind,
        trigger_ref=trigger_ref,
        purpose=purpose,
        planned_at=now,
        due_at=now,
        **rest,
    )


def anomaly_campaign_rows(
    event: CampaignMessageRequested, earlier: Sequence[Notification], *, now: datetime
) -> list[Notification]:
    """One row per channel of the shipment's latest anomaly message."""
    rows = []
    for previous in earlier:
        facts = previous.facts or MessageFacts(order_number="")
        rows.append(
            _row(
                merchant_id=event.merchant_id,
                shipment_id=event.shipment_id,
                correlation_id=event.correlation_id,
                channel=previous.channel,
                trigger_kind=TriggerKind.ANOMALY,
                trigger_ref=previous.trigger_ref,
                purpose=f"campaign-{event.campaign_id}",
                now=now,
                trigger_name=previous.trigger_name,
                source_event_id=event.event_id,
                status=NotificationStatus.PENDING,
                template=previous.template,
                urgent=False,
                link_kind=previous.link_kind,
                link_subject=previous.link_subject,
                facts=facts.model_copy(update={"campaign_id": event.campaign_id}),
            )
        )
    return rows


def broadcast_rows(
    event: CampaignMessageRequested, settings: NotificationSettings, *, now: datetime
) -> list[Notification]:
    content = event.content
    assert isinstance(content, BroadcastContent)
    facts = MessageFacts(
        order_number=event.order_number or event.shipment_id,
        campaign_id=event.campaign_id,
        broadcast=tuple(
            BroadcastWording(locale=text.locale, subject=text.subject, body=text.body)
            for text in content.texts
        ),
        chat_scenario_id=content.chat_scenario_id,
    )
    ref = campaign_message_id(event.merchant_id, event.campaign_id, event.shipment_id)
    link_kind, link_subject = broadcast_link(content, ref, event.shipment_id)
    return [
        _row(
            merchant_id=event.merchant_id,
            shipment_id=event.shipment_id,
            correlation_id=event.correlation_id,
            channel=Channel(channel.value),
            trigger_kind=TriggerKind.CAMPAIGN,
            trigger_ref=ref,
            purpose="campaign",
            now=now,
            trigger_name=BROADCAST_TEMPLATE,
            source_event_id=event.event_id,
            status=NotificationStatus.PENDING,
            template=BROADCAST_TEMPLATE,
            link_kind=link_kind,
            link_subject=link_subject,
            facts=facts,
        )
        for channel in settings.channels
    ]


def broadcast_link(
    content: BroadcastContent, message_id: UUID, shipment_id: str
) -> tuple[LinkKind, str]:
    """The chosen chat scenario for this shipment, else the shipment's tracking page."""
    if content.chat_scenario_id is None:
        return LinkKind.TRACKING_PAGE, shipment_id
    chat = BroadcastChat(
        campaign_message_id=message_id,
        scenario_id=content.chat_scenario_id,
        shipment_id=shipment_id,
    )
    return LinkKind.CHAT, broadcast_chat_subject(chat)


def no_anomaly_row(
    event: CampaignMessageRequested, settings: NotificationSettings, *, now: datetime
) -> Notification:
    """The suppressed row that counts a shipment with nothing to repeat."""
    ref = campaign_message_id(event.merchant_id, event.campaign_id, event.shipment_id)
    return _row(
        merchant_id=event.merchant_id,
        shipment_id=event.shipment_id,
        correlation_id=event.correlation_id,
        channel=Channel(settings.channels[0].value),
        trigger_kind=TriggerKind.ANOMALY,
        trigger_ref=ref,
        purpose=f"campaign-{event.campaign_id}",
        now=now,
        trigger_name="none",
        source_event_id=event.event_id,
        status=NotificationStatus.SUPPRESSED,
        facts=MessageFacts(order_number="", campaign_id=event.campaign_id),
    )


def resend_row(
    event: MessageResendRequested, earlier: Notification, *, now: datetime
) -> Notification:
    return _row(
        merchant_id=event.merchant_id,
        shipment_id=event.shipment_id,
        correlation_id=event.correlation_id,
        channel=earlier.channel,
        trigger_kind=earlier.trigger_kind,
        trigger_ref=earlier.trigger_ref,
        purpose=f"resend-{event.resend_id}",
        now=now,
        trigger_name=earlier.trigger_name,
        source_event_id=event.event_id,
        status=NotificationStatus.PENDING,
        template=earlier.template,
        urgent=False,
        link_kind=earlier.link_kind,
        link_subject=earlier.link_subject,
        facts=earlier.facts,
    )
