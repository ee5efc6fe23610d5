"""Review mode through the notifier: real PostgreSQL and a real SMTP server.

velocity-sports reviews `lost` and `damaged`: such an anomaly is held (no email, one
NotificationHeldForReview) until ReviewDecided; "send" goes through the usual rules and
the email arrives, "dismiss" records it suppressed `dismissed_by_merchant`, a resolution
meanwhile withdraws it (`stale`). A decision applies once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType
from relais_contracts.envelope import utc_now
from relais_contracts.topics.notification_commands import ReviewDecided, ReviewDecision
from relais_contracts.topics.notifications import (
    NotificationHeldForReview,
    NotificationSent,
    NotificationSuppressed,
    SuppressionReason,
)
from relais_runtime.consumer import MessageContext, claim_event
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import Harness, SmtpServer

MORNING = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
MERCHANT = "velocity-sports"


async def decide(
    harness: Harness, held: NotificationHeldForReview, decision: ReviewDecision
) -> bool:
    event = ReviewDecided(
        occurred_at=utc_now(),
        merchant_id=MERCHANT,
        correlation_id=held.correlation_id,
        shipment_id=held.shipment_id,
        review_id=held.review_id,
        decision=decision,
        decided_by=uuid4(),
    )
    async with harness.pool.acquire() as connection, connection.transaction():
        if not await claim_event(
            connection, consumer_group="notifier.test", event_id=event.event_id
        ):
            return False
        await harness.notifier.on_notification_command(
            event,
            MessageContext(connection=connection, topic="t", partition=0, offset=0, attempt=1),
        )
    return True


async def held_lost_anomaly(harness: Harness) -> tuple[str, str, NotificationHeldForReview]:
    tag = uuid4().hex[:8]
    shipment_id, email = f"S-review-{tag}", f"review-{tag}@example.com"
    await harness.consume(
        factories.state(merchant_id=MERCHANT, shipment_id=shipment_id, email=email)
    )
    detected = factories.anomaly(
        merchant_id=MERCHANT, shipment_id=shipment_id, anomaly_type=AnomalyType.LOST
    )
    assert await harness.consume(detected)
    await harness.dispatcher.dispatch_due()
    [held] = [
        o for o in await harness.outcomes(shipment_id) if isinstance(o, NotificationHeldForReview)
    ]
    assert held.review_id == ids.review_id(detected.anomaly_id, "initial")
    return shipment_id, email, held


async def review_status(harness: Harness, review_id: UUID) -> str:
    async with harness.pool.acquire() as connection:
        status: str = await connection.fetchval(
            "SELECT status FROM reviews WHERE review_id = $1", review_id
        )
    return status


async def test_a_lost_parcel_is_held_then_sent_when_an_agent_says_send(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(MORNING)
    shipment_id, email, held = await held_lost_anomaly(harness)
    assert smtp.recorder.to(email) == []
    assert await harness.row(f"{held.trigger.ref_id}:email:initial") is None

    assert await decide(harness, held, ReviewDecision.SEND)
    await harness.dispatcher.dispatch_due()

    assert len(smtp.recorder.to(email)) == 1
    assert [type(o) for o in await harness.outcomes(shipment_id)] == [
        NotificationHeldForReview,
        NotificationSent,
    ]
    assert await review_status(harness, held.review_id) == "sent"
    assert await decide(harness, held, ReviewDecision.DISMISS)  # too late: changes nothing
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(email)) == 1
    assert await review_status(harness, held.review_id) == "sent"


async def test_a_dismissed_message_is_never_sent_and_recorded(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(MORNING)
    shipment_id, email, held = await held_lost_anomaly(harness)

    assert await decide(harness, held, ReviewDecision.DISMISS)
    await harness.dispatcher.dispatch_due()

    assert smtp.recorder.to(email) == []
    [_, suppressed] = await harness.outcomes(shipment_id)
    assert isinstance(suppressed, NotificationSuppressed)
    assert suppressed.reason is SuppressionReason.DISMISSED_BY_MERCHANT
    assert await review_status(harness, held.review_id) == "dismissed"


async def test_a_resolution_while_held_withdraws_it(harness: Harness, smtp: SmtpServer) -> None:
    harness.clock.set(MORNING)
    shipment_id, email, held = await held_lost_anomaly(harness)
    detected = factories.anomaly(
        merchant_id=MERCHANT, shipment_id=shipment_id, anomaly_type=AnomalyType.LOST
    )
    assert await harness.consume(factories.resolved(detected))
    assert await decide(harness, held, ReviewDecision.SEND)
    await harness.dispatcher.dispatch_due()

    assert smtp.recorder.to(email) == []
    [_, withdrawn] = await harness.outcomes(shipment_id)
    assert isinstance(withdrawn, NotificationSuppressed)
    assert withdrawn.reason is SuppressionReason.STALE
    assert await review_status(harness, held.review_id) == "withdrawn"


async def test_an_automatic_type_is_not_held(harness: Harness, smtp: SmtpServer) -> None:
    harness.clock.set(MORNING)
    tag = uuid4().hex[:8]
    shipment_id, email = f"S-auto-{tag}", f"auto-{tag}@example.com"
    await harness.consume(
        factories.state(merchant_id=MERCHANT, shipment_id=shipment_id, email=email)
    )
    await harness.consume(factories.anomaly(merchant_id=MERCHANT, shipment_id=shipment_id))
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(email)) == 1
    assert [type(o) for o in await harness.outcomes(shipment_id)] == [NotificationSent]
