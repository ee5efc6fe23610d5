"""The level-2 desk's replies through the notifier: real Kafka, PostgreSQL and SMTP.

The notifier runs in process with the production wiring on throw-away topics. An
AnswerCustomer (relais.desk-replies.v1) becomes one email "an answer is waiting" with the
chat link of the anomaly, worded from the notifier's own copy of the parcel (the order
number of its earlier message); a replay, or a copy under another event id, sends nothing
more. SendSurvey sends the merchant's survey (its `delivered` message, survey link) once
per case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from uuid import UUID, uuid4

import asyncpg
import pytest

from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType, Milestone
from relais_contracts.envelope import utc_now
from relais_contracts.topics.desk_replies import AnswerCustomer, SendSurvey
from relais_runtime.clock import ManualClock
from relais_runtime.db import create_pool
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import SmsProvider, SmtpServer
from tests.integration.notifier.running import Publish, running_notifier

MERCHANT = "velocity-sports"
STATE, ANOMALIES, DESK = (
    "relais.shipment-state.v1",
    "relais.anomalies.v1",
    "relais.desk-replies.v1",
)
MORNING = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def answer(shipment_id: str, anomaly_id: UUID | None) -> AnswerCustomer:
    answer_id = uuid4()
    return AnswerCustomer(
        event_id=answer_id,
        occurred_at=utc_now(),
        merchant_id=MERCHANT,
        correlation_id=shipment_id,
        shipment_id=shipment_id,
        case_id=uuid4(),
        answer_id=answer_id,
        order_id="ORD-internal-1",
        anomaly_id=anomaly_id,
        locale="fr-FR",
        agent_name="Nadia",
        text="Votre colis repart demain, nous vous remboursons la livraison.",
    )


def survey(shipment_id: str, case_id: UUID) -> SendSurvey:
    return SendSurvey(
        event_id=ids.derived_id("desk-survey", str(case_id)),
        occurred_at=utc_now(),
        merchant_id=MERCHANT,
        correlation_id=shipment_id,
        shipment_id=shipment_id,
        case_id=case_id,
        order_id="ORD-internal-1",
    )


def text_of(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


DeskNotifier = Callable[[str, str], AbstractAsyncContextManager[tuple[Publish, asyncpg.Pool]]]


@pytest.fixture
def desk_notifier(
    infrastructure: Infrastructure,
    schema: str,
    unique: str,
    new_topic: Callable[[str], Awaitable[str]],
    smtp: SmtpServer,
    sms_provider: SmsProvider,
) -> DeskNotifier:
    """Starts the notifier on this test's topics, a parcel's state (shipment id, the
    customer's email) already published to it; gives its publisher and a database pool."""

    @asynccontextmanager
    async def started(shipment_id: str, email: str) -> AsyncIterator[tuple[Publish, asyncpg.Pool]]:
        names = (STATE, ANOMALIES, DESK)
        topics = {name: await new_topic(f"test-{unique}-{name}") for name in names}
        async with running_notifier(
            infrastructure,
            schema=schema,
            unique=unique,
            topics=topics,
            smtp=smtp,
            sms_provider=sms_provider,
            clock=ManualClock(MORNING),
        ) as publish:
            pool = await create_pool(
                database_url=infrastructure.database_url, schema=schema, max_size=2
            )
            try:
                state = factories.state(merchant_id=MERCHANT, shipment_id=shipment_id, email=email)
                await publish(STATE, state)
                yield publish, pool
            finally:
                await pool.close()

    return started


async def processed(pool: asyncpg.Pool, event_id: UUID) -> bool:
    """The notifier's consumer has committed this event (its inbox holds the id)."""
    return bool(
        await pool.fetchval("SELECT true FROM processed_events WHERE event_id = $1", event_id)
    )


async def received(smtp: SmtpServer, email: str, count: int) -> bool:
    async def enough() -> bool:
        return len(smtp.recorder.to(email)) >= count

    return bool(await eventually(enough, timeout_s=30))


async def replayed(
    publish: Publish, pool: asyncpg.Pool, event: AnswerCustomer | SendSurvey
) -> None:
    """Publishes `event` again as it is, then under another event id, and returns once
    the notifier's consumer has committed the copy."""
    copy = event.model_copy(update={"event_id": uuid4()})
    await publish(DESK, event)
    await publish(DESK, copy)
    assert await eventually(lambda: processed(pool, copy.event_id), timeout_s=30)


async def test_an_answer_emails_the_chat_link_once(
    unique: str, smtp: SmtpServer, desk_notifier: DeskNotifier
) -> None:
    shipment_id, email = f"S-desk-{unique}", f"desk-{unique}@example.com"
    shipped = factories.milestone(
        merchant_id=MERCHANT, shipment_id=shipment_id, which=Milestone.SHIPPED
    )
    anomaly_id = ids.anomaly_id(MERCHANT, shipment_id, AnomalyType.DELIVERY_LATE.value)
    reply = answer(shipment_id, anomaly_id)
    async with desk_notifier(shipment_id, email) as (publish, pool):
        await publish(ANOMALIES, shipped)
        assert await received(smtp, email, 1), "the shipping confirmation"

        await publish(DESK, reply)
        assert await received(smtp, email, 2), "the answer's email"

        await replayed(publish, pool, reply)
        rows = await pool.fetch(
            "SELECT idempotency_key, status, trigger_kind, trigger_name FROM notifications"
            " WHERE trigger_ref = $1",
            reply.answer_id,
        )

    assert [tuple(row) for row in rows] == [
        (f"{reply.answer_id}:email:desk-answer", "sent", "action_result", "desk_answer")
    ]
    messages = smtp.recorder.to(email)
    assert len(messages) == 2, "a replay sends nothing more"
    message = messages[1]
    assert message["Subject"] == (
        f"Commande {shipped.shipment.order_number} : une réponse de Velocity Sports vous attend"
    )
    text, html = text_of(message)
    assert f"votre commande {shipped.shipment.order_number}" in text, "the notifier's own facts"
    assert reply.text not in text, "the answer itself stays in the chat"
    assert "https://chat.test/c/" in html, "the chat link"
    assert "https://chat.test/c/" in text


async def test_closing_a_case_sends_the_survey_once(
    unique: str, smtp: SmtpServer, desk_notifier: DeskNotifier
) -> None:
    shipment_id, email = f"S-survey-{unique}", f"survey-{unique}@example.com"
    case_id = uuid4()
    closed = survey(shipment_id, case_id)
    async with desk_notifier(shipment_id, email) as (publish, pool):
        await publish(DESK, closed)
        assert await received(smtp, email, 1), "the survey"

        await replayed(publish, pool, closed)
        sent = await pool.fetchval(
            "SELECT count(*) FROM notifications WHERE trigger_ref = $1 AND status = 'sent'",
            case_id,
        )

    assert sent == 1
    [message] = smtp.recorder.to(email)
    assert message["Subject"] == "Votre commande ORD-internal-1 est livrée"
    _, html = text_of(message)
    assert "https://chat.test/s/" in html, "the survey link"
