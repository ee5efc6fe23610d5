"""Review mode, in the consumer's transaction: hold, release, dismiss, withdraw.

- a held message is a `reviews` row and a NotificationHeldForReview (outbox), nothing
  in the send log: the dispatcher never sees it;
- "send" replans the held request as if it had just arrived (one pending row per
  channel, due now): quiet hours, the frequency cap, opt-outs and the send log's
  idempotency keys then apply as to any message;
- "dismiss" and the anomaly's resolution record each channel's message suppressed
  (`dismissed_by_merchant`, `stale`) under the key it would have been sent with;
- every transition happens once (the review is locked and must still be held), so a
  redelivered command or a decision after a withdrawal changes nothing.
"""

from __future__ import annotations

from relais_contracts.topics import notifications
from relais_contracts.topics.anomalies import AnomalyResolved
from relais_contracts.topics.notification_commands import ReviewDecided
from relais_contracts.topics.notifications import SuppressionReason
from relais_notifier import repository, review_repository
from relais_notifier.domain.outcomes import Notification, plan
from relais_notifier.domain.review import (
    SUPPRESSION_OF,
    HeldReview,
    ReviewStatus,
    held_event,
    status_after,
)
from relais_notifier.service.outcomes import OutcomeRecorder
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger
from relais_runtime.outbox import enqueue

log = get_logger(__name__)


class Reviewing:
    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._recorder = OutcomeRecorder(clock=clock)

    async def hold(self, connection: DbConnection, review: HeldReview) -> None:
        """Record the review and announce it, once per review id."""
        if await review_repository.create_review(connection, review=review):
            await enqueue(connection, topic=notifications.TOPIC, events=[held_event(review)])
            log.info("notification held for review", trigger=review.request.trigger.name)

    async def decide(self, connection: DbConnection, command: ReviewDecided) -> None:
        review = await review_repository.get_review(
            connection, merchant_id=command.merchant_id, review_id=command.review_id
        )
        if review is None:
            log.warning("review decision for an unknown review", decision=command.decision.value)
            return
        status = status_after(review.status, command.decision)
        if status is None:
            log.info("review already closed", status=review.status.value)
            return
        await review_repository.update_review(
            connection,
            review_id=review.review_id,
            status=status,
            decided_at=command.occurred_at,
            decided_by=command.decided_by,
        )
        if status is ReviewStatus.SENT:
            await self._release(connection, review)
        else:
            await self._end_unsent(connection, review, status, detail="dismissed by the merchant")

    async def withdraw(self, connection: DbConnection, event: AnomalyResolved) -> None:
        """The anomaly was resolved while its messages waited: they will never be sent."""
        held = await review_repository.list_held_reviews(
            connection, merchant_id=event.merchant_id, trigger_ref=event.anomaly_id
        )
        for review in held:
            await review_repository.update_review(
                connection,
                review_id=review.review_id,
                status=ReviewStatus.WITHDRAWN,
                decided_at=self._clock.now(),
            )
            await self._end_unsent(
                connection,
                review,
                ReviewStatus.WITHDRAWN,
                detail=f"anomaly {event.reason.value} while held for review",
            )

    def _rows(self, review: HeldReview) -> list[Notification]:
        return plan(
            review.request,
            merchant_id=review.merchant_id,
            shipment_id=review.shipment_id,
            correlation_id=review.correlation_id,
            now=self._clock.now(),
        )

    async def _release(self, connection: DbConnection, review: HeldReview) -> None:
        for row in self._rows(review):
            await repository.create_notification(connection, notification=row)
        await repository.wake_dispatcher(connection)

    async def _end_unsent(
        self, connection: DbConnection, review: HeldReview, status: ReviewStatus, *, detail: str
    ) -> None:
        reason: SuppressionReason = SUPPRESSION_OF[status]
        for row in self._rows(review):
            if await repository.create_notification(connection, notification=row):
                await self._recorder.suppress(
                    connection, row, now=self._clock.now(), reason=reason, detail=detail
                )
