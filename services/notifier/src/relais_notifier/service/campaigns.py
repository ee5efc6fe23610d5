"""Planning the messages the back office asks for (relais.notification-commands.v1), in
the consumer's transaction; the dispatcher then sends them through the usual policy
(contact, opt-out, quiet hours, frequency cap) and publishes the usual outcomes, each
carrying the campaign id.

Rules (pure choices in domain.commands):
- one message per (campaign, shipment, channel): a replayed command plans nothing twice;
- an anomaly-scenario campaign repeats the shipment's latest anomaly message (its
  template, facts and chat link) under the campaign's purpose; a shipment with no
  such message gets one NotificationSuppressed (trigger_disabled) with the campaign id,
  so every requested shipment ends in exactly one counted outcome;
- a broadcast is the merchant's words in its branding, on the merchant's channels;
- a resend repeats one earlier message of the same shipment on the same channel; an
  unknown notification id (another merchant's, or erased) is ignored and logged.
"""

from __future__ import annotations

import logging

from relais_contracts.topics.notification_commands import (
    CampaignMessageRequested,
    MessageResendRequested,
)
from relais_contracts.topics.notifications import SuppressionReason
from relais_notifier import repository
from relais_notifier.domain.commands import (
    anomaly_campaign_rows,
    broadcast_rows,
    no_anomaly_row,
    resend_row,
)
from relais_notifier.domain.outcomes import Notification, suppressed_event
from relais_notifier.service.outcomes import record_outcome
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.merchants.notification import NotificationSettings

log = logging.getLogger(__name__)


class Campaigns:
    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock

    async def message_requested(
        self,
        connection: DbConnection,
        event: CampaignMessageRequested,
        settings: NotificationSettings,
    ) -> None:
        now = self._clock.now()
        if event.content.kind == "broadcast":
            await self._plan(connection, broadcast_rows(event, settings, now=now))
            return
        earlier = await repository.latest_anomaly_messages(
            connection, merchant_id=event.merchant_id, shipment_id=event.shipment_id
        )
        if earlier:
            await self._plan(connection, anomaly_campaign_rows(event, earlier, now=now))
            return
        row = no_anomaly_row(event, settings, now=now)
        if await repository.create_notification(connection, notification=row):
            await record_outcome(
                connection,
                row,
                event=suppressed_event(
                    row,
                    now=now,
                    reason=SuppressionReason.TRIGGER_DISABLED,
                    detail="no anomaly message for this shipment",
                ),
                outcome_reason=SuppressionReason.TRIGGER_DISABLED.value,
            )

    async def resend_requested(
        self, connection: DbConnection, event: MessageResendRequested
    ) -> None:
        earlier = await repository.find_notification(
            connection, merchant_id=event.merchant_id, notification_id=event.notification_id
        )
        if earlier is None or earlier.shipment_id != event.shipment_id or earlier.template is None:
            log.warning(
                "resend of an unknown message ignored",
                extra={"merchant_id": event.merchant_id, "resend_id": str(event.resend_id)},
            )
            return
        await self._plan(connection, [resend_row(event, earlier, now=self._clock.now())])

    async def _plan(self, connection: DbConnection, rows: list[Notification]) -> None:
        created = [
            row
            for row in rows
            if await repository.create_notification(connection, notification=row)
        ]
        if created:
            await repository.wake_dispatcher(connection)
