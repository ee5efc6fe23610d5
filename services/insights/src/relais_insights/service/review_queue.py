"""The back office's review queue: projection, reads, an agent's decision, the alert.

Rules:
- projection runs in the consumer's transaction (domain.review_queue): held reviews
  are queued once, outcomes and resolutions close them; a tombstone deletes them;
- a decision (send or dismiss) is taken by an agent or admin (or a `backoffice` key),
  only on a review still held: the row is closed, ReviewDecided goes to the outbox
  (relais.notification-commands.v1) and the audit log records who decided (the user,
  or the API key's id), in one transaction; otherwise NotHeld (unknown or closed);
- the gauges `relais_review_oldest_waiting_seconds` and `relais_review_over_limit` are
  set per configured merchant at every metrics round, and the navigation's badge reads
  the same counts (`over_limit_count`, this process's last round or page view).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from relais_contracts.envelope import Event
from relais_contracts.topics import notification_commands
from relais_contracts.topics.notification_commands import ReviewDecided, ReviewDecision
from relais_insights import review_repository
from relais_insights.domain.review_queue import (
    Close,
    QueuedReview,
    ReviewState,
    Withdraw,
    change_of,
    over_limit,
    waited,
)
from relais_insights.review_repository import ReviewRow
from relais_insights.service.office_users import SignedInUser, record_audit
from relais_runtime import metrics
from relais_runtime.db import DbConnection
from relais_runtime.merchants import MerchantConfig
from relais_runtime.outbox import enqueue

QUEUE_LIMIT = 200
DEFAULT_LIMIT = timedelta(hours=2)
_over_limit_counts: dict[str, int] = {}


def over_limit_count(merchant_id: str) -> int:
    """Items over the merchant's limit at the last round or review page (the badge)."""
    return _over_limit_counts.get(merchant_id, 0)


async def project_event(connection: DbConnection, event: Event) -> None:
    change = change_of(event)
    merchant_id = event.merchant_id
    match change:
        case QueuedReview():
            await review_repository.create_review(
                connection, merchant_id=merchant_id, review=change
            )
        case Close():
            await review_repository.update_review(
                connection, merchant_id=merchant_id, review_id=change.review_id, state=change.state
            )
        case Withdraw():
            await review_repository.update_anomaly_withdrawn(
                connection, merchant_id=merchant_id, anomaly_id=change.anomaly_id
            )
        case None:
            return


async def erase_shipment(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    await review_repository.delete_shipment_reviews(
        connection, merchant_id=merchant_id, shipment_id=shipment_id
    )


@dataclass(frozen=True)
class QueueItem:
    row: ReviewRow
    waited_s: int
    over_limit: bool


@dataclass(frozen=True)
class Decided:
    review_id: UUID
    decision: ReviewDecision
    decided_at: datetime


@dataclass(frozen=True)
class NotHeld:
    """No decision taken: the review is unknown to this merchant (`state` None) or
    already closed (its state)."""

    state: ReviewState | None


@dataclass(frozen=True)
class ReviewQueue:
    pool: asyncpg.Pool

    async def items(self, merchant: MerchantConfig, *, now: datetime) -> list[QueueItem]:
        async with self.pool.acquire() as connection:
            rows = await review_repository.list_held_reviews(
                connection, merchant_id=merchant.merchant_id, limit=QUEUE_LIMIT
            )
        limit = merchant_limit(merchant)
        items = [
            QueueItem(
                row=row,
                waited_s=int(waited(row.review.held_at, now).total_seconds()),
                over_limit=over_limit(row.review.held_at, now, limit),
            )
            for row in rows
        ]
        _over_limit_counts[merchant.merchant_id] = sum(item.over_limit for item in items)
        return items

    async def decide(
        self,
        merchant: MerchantConfig,
        review_id: UUID,
        decision: ReviewDecision,
        *,
        user: SignedInUser | None,
        now: datetime,
        key_id: str | None = None,
    ) -> Decided | NotHeld:
        """Close a held review and send the notifier the decision (by `user`, or by the
        API key `key_id`); NotHeld, publishing nothing, when it is not held."""
        merchant_id = merchant.merchant_id
        state = ReviewState.SENT if decision is ReviewDecision.SEND else ReviewState.DISMISSED
        async with self.pool.acquire() as connection, connection.transaction():
            row = await review_repository.get_review(
                connection, merchant_id=merchant_id, review_id=review_id
            )
            if row is None or row.state is not ReviewState.HELD:
                return NotHeld(state=row.state if row else None)
            await review_repository.update_review(
                connection,
                merchant_id=merchant_id,
                review_id=review_id,
                state=state,
                decided_at=now,
                decided_by=user.user_id if user else None,
            )
            command = _command(row, decision, user=user, now=now, merchant_id=merchant_id)
            await enqueue(connection, topic=notification_commands.TOPIC, events=[command])
            await record_audit(
                connection,
                user,
                f"review.{decision.value}",
                str(review_id),
                {"anomaly_type": row.review.anomaly_type, "via": command.via, "key_id": key_id},
                merchant_id=merchant_id,
                at=now,
            )
        return Decided(review_id=review_id, decision=decision, decided_at=now)


def _command(
    row: ReviewRow,
    decision: ReviewDecision,
    *,
    user: SignedInUser | None,
    now: datetime,
    merchant_id: str,
) -> ReviewDecided:
    return ReviewDecided(
        occurred_at=now,
        merchant_id=merchant_id,
        correlation_id=row.review.shipment_id,
        shipment_id=row.review.shipment_id,
        review_id=row.review.review_id,
        decision=decision,
        decided_by=user.user_id if user else None,
        via="office" if user else "api",
    )


def merchant_limit(merchant: MerchantConfig) -> timedelta:
    notification = merchant.notification
    return notification.review_alert_after if notification else DEFAULT_LIMIT


async def refresh_gauges(connection: DbConnection, merchant: MerchantConfig, now: datetime) -> None:
    """Set the merchant's two review gauges from its held reviews (0 when none)."""
    held = await review_repository.list_held_times(connection, merchant_id=merchant.merchant_id)
    limit = merchant_limit(merchant)
    oldest = max((waited(at, now) for at in held), default=None)
    count = sum(over_limit(at, now, limit) for at in held)
    _over_limit_counts[merchant.merchant_id] = count
    label = merchant.merchant_id
    metrics.REVIEW_OLDEST_WAITING.labels(merchant=label).set(
        oldest.total_seconds() if oldest else 0.0
    )
    metrics.REVIEW_OVER_LIMIT.labels(merchant=label).set(count)
