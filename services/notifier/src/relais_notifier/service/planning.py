"""Planning messages from the events that ask for them, in the consumer's transaction.

- a trigger yields one pending row per channel, due now, recorded idempotently by key
  (a replayed event plans nothing twice); the dispatcher is woken once, at commit;
- a trigger the merchant does not bind is recorded suppressed (trigger_disabled);
- an anomaly type the merchant reviews is held instead (service.reviewing), and its
  resolution withdraws what is still held;
- a resolved anomaly makes its pending messages stale, a delivered parcel its pending
  milestone news (suppressed, stale).
Nothing is sent here: the dispatcher sends what is due.
"""

from __future__ import annotations

from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.desk_replies import AnswerCustomer, SendSurvey
from relais_contracts.topics.notifications import SuppressionReason, TriggerKind
from relais_notifier import repository
from relais_notifier.domain.desk import answer_request, desk_facts, survey_request
from relais_notifier.domain.outcomes import Notification, NotificationStatus, plan, suppressed_event
from relais_notifier.domain.review import hold, needs_review
from relais_notifier.domain.triggers import (
    MessageRequest,
    TriggerDisabled,
    action_request,
    anomaly_request,
    milestone_request,
)
from relais_notifier.service.outcomes import OutcomeRecorder, record_outcome
from relais_notifier.service.reviewing import Reviewing
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.merchants.notification import NotificationSettings

Trigger = (
    AnomalyDetected
    | AnomalyEscalated
    | ShipmentMilestoneReached
    | ActionCompleted
    | AnswerCustomer
    | SendSurvey
)


class Planning:
    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._recorder = OutcomeRecorder(clock=clock)
        self.reviewing = Reviewing(clock=clock)

    async def anomaly(
        self,
        connection: DbConnection,
        event: AnomalyDetected | AnomalyEscalated,
        settings: NotificationSettings,
    ) -> None:
        request = anomaly_request(event, settings)
        if needs_review(request, settings):
            review = hold(
                request,
                merchant_id=event.merchant_id,
                shipment_id=event.shipment_id,
                correlation_id=event.correlation_id,
                now=self._clock.now(),
            )
            await self.reviewing.hold(connection, review)
            return
        await self._plan(connection, event, request)

    async def anomaly_resolved(self, connection: DbConnection, event: AnomalyResolved) -> None:
        await self.reviewing.withdraw(connection, event)
        stale = await repository.list_pending(
            connection, merchant_id=event.merchant_id, trigger_ref=event.anomaly_id
        )
        await self._make_stale(connection, stale, detail=f"anomaly {event.reason.value}")

    async def milestone(
        self,
        connection: DbConnection,
        event: ShipmentMilestoneReached,
        settings: NotificationSettings,
    ) -> None:
        if event.milestone.value == "delivered":
            stale = await repository.list_pending(
                connection,
                merchant_id=event.merchant_id,
                shipment_id=event.shipment_id,
                trigger_kind=TriggerKind.MILESTONE,
            )
            await self._make_stale(connection, stale, detail="delivered meanwhile")
        await self._plan(connection, event, milestone_request(event, settings))

    async def action_completed(
        self, connection: DbConnection, event: ActionCompleted, settings: NotificationSettings
    ) -> None:
        await self._plan(connection, event, action_request(event, settings))

    async def desk_reply(
        self,
        connection: DbConnection,
        event: AnswerCustomer | SendSurvey,
        settings: NotificationSettings,
    ) -> None:
        """The desk's answer or survey (domain.desk), worded from the shipment's facts."""
        earlier = await repository.get_latest_facts(
            connection, merchant_id=event.merchant_id, shipment_id=event.shipment_id
        )
        facts = desk_facts(earlier, order_id=event.order_id)
        if isinstance(event, AnswerCustomer):
            await self._plan(connection, event, answer_request(event, settings, facts=facts))
        else:
            await self._plan(connection, event, survey_request(event, settings, facts=facts))

    async def _plan(
        self,
        connection: DbConnection,
        event: Trigger,
        request: MessageRequest | TriggerDisabled,
    ) -> None:
        now = self._clock.now()
        rows = plan(
            request,
            merchant_id=event.merchant_id,
            shipment_id=event.shipment_id,
            correlation_id=event.correlation_id,
            now=now,
        )
        woken = False
        for row in rows:
            if not await repository.create_notification(connection, notification=row):
                continue
            if row.status == NotificationStatus.SUPPRESSED:
                await record_outcome(
                    connection,
                    row,
                    event=suppressed_event(
                        row,
                        now=now,
                        reason=SuppressionReason.TRIGGER_DISABLED,
                        detail=f"{row.trigger_name} is not bound to a message",
                    ),
                    outcome_reason=SuppressionReason.TRIGGER_DISABLED.value,
                )
            elif not woken:
                await repository.wake_dispatcher(connection)
                woken = True

    async def _make_stale(
        self, connection: DbConnection, rows: list[Notification], *, detail: str
    ) -> None:
        now = self._clock.now()
        for row in rows:
            await self._recorder.suppress(
                connection, row, now=now, reason=SuppressionReason.STALE, detail=detail
            )
