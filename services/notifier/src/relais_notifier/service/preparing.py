"""Transaction A of a dispatch: claim the row, decide, and either settle it here or make
it ready to send.

A decision that sends nothing (wait, deferral, suppression, fallback) is written here
with its outcome event and the dispatch ends; a wait moves the due time only and is not
published. A send composes the message and marks the row `sending` with a lease; a
message that cannot be composed fails here (rendering_error, or the channel's reason).
A merchant without notification settings fails the row (configuration_error).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from relais_contracts.topics.notifications import FailureReason
from relais_notifier import repository
from relais_notifier.adapters.channels import ChannelError
from relais_notifier.domain.outcomes import Notification
from relais_notifier.domain.policy import Defer, Fallback, Send, Suppress, Wait
from relais_notifier.service.claiming import claim, mark_sending
from relais_notifier.service.composing import Composer, Outgoing
from relais_notifier.service.deciding import Circumstances, Decider
from relais_notifier.service.dispatch_policy import DispatchPolicy
from relais_notifier.service.outcomes import OutcomeRecorder
from relais_notifier.texts.rendering import RenderingError
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.merchants import MerchantConfig


class Preparation:
    def __init__(
        self,
        *,
        clock: Clock,
        merchants: Mapping[str, MerchantConfig],
        decider: Decider,
        composer: Composer,
        recorder: OutcomeRecorder,
        policy: DispatchPolicy,
    ) -> None:
        self._clock = clock
        self._merchants = merchants
        self._decider = decider
        self._composer = composer
        self._recorder = recorder
        self._policy = policy

    async def prepare(
        self, connection: DbConnection, key: str
    ) -> tuple[Notification, Outgoing] | None:
        """The row marked `sending` and its message, or None when nothing is to be sent now."""
        now = self._clock.now()
        row = await claim(connection, key, now=now)
        if row is None:
            return None
        merchant = self._merchants.get(row.merchant_id)
        settings = merchant.notification if merchant else None
        if merchant is None or settings is None:
            await self._recorder.fail(
                connection, row, reason=FailureReason.CONFIGURATION_ERROR, detail="no config"
            )
            return None
        circumstances = await self._decider.circumstances(connection, row, settings, now=now)
        match self._decider.decide(row, circumstances, settings, now=now):
            case Send():
                return await self._ready(connection, row, merchant, circumstances, now=now)
            case Wait(until=until):
                await repository.update_notification(
                    connection, idempotency_key=row.idempotency_key, due_at=until
                )
            case Suppress(reason=reason, detail=detail):
                await self._recorder.suppress(
                    connection, row, now=now, reason=reason, detail=detail
                )
            case Defer(until=until, reason=deferral):
                await self._recorder.defer(connection, row, until=until, reason=deferral)
            case Fallback(channel=channel):
                await self._recorder.fall_back(connection, row, channel, now=now)
        return None

    async def _ready(
        self,
        connection: DbConnection,
        row: Notification,
        merchant: MerchantConfig,
        circumstances: Circumstances,
        *,
        now: datetime,
    ) -> tuple[Notification, Outgoing] | None:
        contact = circumstances.contact
        assert contact is not None  # the policy sends only to a known contact
        try:
            outgoing = self._composer.compose(row, merchant, contact, now=now)
        except RenderingError as error:
            await self._recorder.fail(
                connection, row, reason=FailureReason.RENDERING_ERROR, detail=str(error)[:500]
            )
            return None
        except ChannelError as error:
            await self._recorder.fail(
                connection, row, reason=error.reason, detail=str(error), status=error.status
            )
            return None
        language = outgoing.email["Content-Language"] if outgoing.email else None
        claimed = await mark_sending(
            connection,
            row,
            now=now,
            lease=self._policy.lease,
            customer_key=circumstances.customer_key,
            locale=language or contact.locale,
        )
        return claimed, outgoing
