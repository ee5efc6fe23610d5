"""The chat against a real Kafka and PostgreSQL: it learns shipments and anomalies
from their topics, serves the signed pages, and publishes what the customer did."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from relais_contracts.actions import ActionType, RedeliveryRequest
from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.topics import anomalies
from relais_contracts.topics.anomalies import AnomalyResolved
from relais_contracts.topics.conversations import (
    AbandonReason,
    AnswerRecorded,
    ConversationAbandoned,
    ConversationStarted,
    EntryPoint,
    ResolutionChosen,
    SurveyAnswered,
    TrackingPageViewed,
)
from relais_runtime.kafka import publish_events
from relais_runtime.links import LinkPurpose
from tests.conftest import Infrastructure
from tests.integration.chat.support import (
    RunningChat,
    bookable_day,
    conversation_events,
    conversation_events_of,
    link,
    running_chat,
    story,
)
from tests.integration.conftest import eventually

MERCHANT = "maison-lumiere"


@pytest.fixture(scope="module")
async def chat(infrastructure: Infrastructure) -> AsyncIterator[RunningChat]:
    async with running_chat(infrastructure, unique=uuid.uuid4().hex[:10]) as running:
        yield running


async def test_a_customer_chooses_a_redelivery_day_from_the_link(
    chat: RunningChat, producer: AIOKafkaProducer, infrastructure: Infrastructure
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment)
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id))
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        page = await chat.wait_until_known(client, path + "?via=sms")
        assert page.status_code == 200
        assert "Lou" in page.text
        assert "Salut Camille" in page.text  # maison-lumiere speaks informally
        assert 'value="redelivery"' in page.text
        chose = await client.post(
            path, data={"node": "choose", "step": "0", "choice": "redelivery"}
        )
        assert chose.status_code == 303
        assert chose.headers["location"].startswith("/c/")
        day = bookable_day()
        typed = await client.post(
            path, data={"node": "redelivery_day", "step": "1", "day": day.isoformat()}
        )
        assert typed.status_code == 303
        done = await client.get(path)
        assert "C&#39;est réservé" in done.text or "C'est réservé" in done.text
        assert 'method="post"' not in done.text

    key = f"{MERCHANT}/{shipment}".encode()
    published = await conversation_events(
        infrastructure, key=key, until=lambda evs: any(isinstance(e, ResolutionChosen) for e in evs)
    )
    started = [e for e in published if isinstance(e, ConversationStarted)]
    answers = [e for e in published if isinstance(e, AnswerRecorded)]
    chosen = [e for e in published if isinstance(e, ResolutionChosen)]
    assert len(started) == 1
    assert started[0].entry is EntryPoint.SMS_LINK
    assert started[0].anomaly_type is AnomalyType.FAILED_ATTEMPT
    assert started[0].locale == "fr-FR"
    assert [a.node_id for a in answers] == ["choose", "redelivery_day"]
    assert len(chosen) == 1
    assert chosen[0].anomaly_id == one.anomaly.anomaly_id
    assert chosen[0].action == RedeliveryRequest(day=day)
    assert chosen[0].action.action is ActionType.REDELIVERY


async def test_a_double_submit_counts_once_and_another_device_resumes(
    chat: RunningChat, producer: AIOKafkaProducer
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment, anomaly_type=AnomalyType.LOST)
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id))
    async with httpx.AsyncClient(base_url=chat.base_url) as phone:
        await chat.wait_until_known(phone, path)
        form = {"node": "choose", "step": "0", "choice": "reship"}
        first, second = await phone.post(path, data=form), await phone.post(path, data=form)
        assert (first.status_code, second.status_code) == (303, 303)
        late = await phone.post(path, data={"node": "choose", "step": "0", "choice": "refund"})
        assert late.status_code == 303
    async with httpx.AsyncClient(base_url=chat.base_url) as laptop:
        resumed = await laptop.get(path)
        assert resumed.status_code == 200
        assert "Renvoyer ma commande" in resumed.text  # the answer given on the phone
        assert 'value="same_address"' in resumed.text  # and the question that follows
    connection = await chat.connect()
    try:
        rows = await connection.fetch(
            "SELECT a.node_id FROM answers a JOIN conversations c USING (conversation_id)"
            " WHERE c.shipment_id = $1",
            shipment,
        )
        outbox = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE key = $1", f"{MERCHANT}/{shipment}".encode()
        )
    finally:
        await connection.close()
    assert [row["node_id"] for row in rows] == ["choose"]
    assert outbox == 2  # ConversationStarted and one AnswerRecorded


async def test_an_invalid_answer_is_explained_and_changes_nothing(
    chat: RunningChat, producer: AIOKafkaProducer
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(
        merchant_id=MERCHANT, shipment_id=shipment, anomaly_type=AnomalyType.ADDRESS_PROBLEM
    )
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id))
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        await chat.wait_until_known(client, path)
        await client.post(path, data={"node": "choose", "step": "0", "choice": "address"})
        page = await client.get(path)
        assert 'value="12 rue des Lilas"' in page.text  # prefilled with the current address
        wrong = await client.post(
            path,
            data={
                "node": "new_address",
                "step": "1",
                "line1": "3 rue Neuve",
                "postal_code": "690",
                "city": "Lyon",
                "country": "FR",
            },
        )
        assert wrong.status_code == 422
        assert "Ce code postal ne correspond pas au pays." in wrong.text
        assert 'aria-invalid="true"' in wrong.text
        assert 'value="3 rue Neuve"' in wrong.text  # what was typed is kept
        still = await client.get(path)
        assert 'name="line1"' in still.text


async def test_bad_links_get_a_403_with_a_way_to_reach_the_merchant(
    chat: RunningChat, producer: AIOKafkaProducer
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment)
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    subject = str(one.anomaly.anomaly_id)
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        await chat.wait_until_known(
            client, link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=subject)
        )
        expired = await client.get(
            link(
                merchant_id=MERCHANT,
                purpose=LinkPurpose.CHAT,
                subject=subject,
                issued_at=datetime.now(UTC) - timedelta(days=31),
            )
        )
        assert expired.status_code == 403
        assert "Ce lien a expiré" in expired.text
        assert "+33 1 84 80 00 00" in expired.text  # maison-lumiere's contact
        good = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=subject)
        tampered = await client.get(good[:-2] + ("xy" if not good.endswith("xy") else "zw"))
        assert tampered.status_code == 403
        assert "This link is not valid" in tampered.text
        assert "Camille" not in tampered.text
        as_tracking = await client.get(good.replace("/c/", "/t/"))
        assert as_tracking.status_code == 403
        other_merchant = await client.get(
            link(merchant_id="velocity-sports", purpose=LinkPurpose.CHAT, subject=subject)
        )
        assert other_merchant.status_code == 404
        assert "Camille" not in other_merchant.text
        assert one.state.order_number not in other_merchant.text


async def test_the_tracking_page_answers_where_is_my_order(
    chat: RunningChat, producer: AIOKafkaProducer, infrastructure: Infrastructure
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id="velocity-sports", shipment_id=shipment, anomaly_type=None, pickup=True)
    await chat.learn(producer, [one])
    path = link(merchant_id="velocity-sports", purpose=LinkPurpose.TRACKING, subject=shipment)
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        await chat.wait_until_known(client, path)

        async def with_timeline() -> httpx.Response | None:
            # the carrier events come on their own topic, possibly after the state
            response = await client.get(path)
            return response if one.events[0].description in response.text else None

        page = await eventually(with_timeline, timeout_s=30)
    assert isinstance(page, httpx.Response), "the timeline never showed the carrier event"
    assert page.status_code == 200
    point = one.state.delivery.pickup_point
    assert point is not None
    assert point.name in page.text
    assert "À retirer avant le" in page.text  # the customer reads French (fr-FR)
    assert one.events[0].description in page.text
    assert one.state.order_number in page.text
    viewed = await conversation_events_of(
        infrastructure, merchant_id="velocity-sports", shipment_id=shipment, kind=TrackingPageViewed
    )
    assert viewed
    assert viewed[0].status is one.state.status


async def test_a_resolved_anomaly_closes_its_open_conversation(
    chat: RunningChat, producer: AIOKafkaProducer, infrastructure: Infrastructure
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment, anomaly_type=AnomalyType.DELIVERY_LATE)
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id))
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        await chat.wait_until_known(client, path)
        resolved = AnomalyResolved(
            occurred_at=datetime.now(UTC),
            merchant_id=MERCHANT,
            correlation_id=shipment,
            shipment_id=shipment,
            anomaly_id=one.anomaly.anomaly_id,
            anomaly_type=one.anomaly.anomaly_type,
            reason=ResolutionReason.FACTS_CHANGED,
            status=one.state.status,
            substatus=one.state.substatus,
        )
        await publish_events(producer, topic=anomalies.TOPIC.name, events=[resolved])
        published = await conversation_events(
            infrastructure,
            key=f"{MERCHANT}/{shipment}".encode(),
            until=lambda evs: any(isinstance(e, ConversationAbandoned) for e in evs),
        )
        page = await client.get(path)
        late = await client.post(path, data={"node": "choose", "step": "0", "choice": "wait"})
    abandoned = [e for e in published if isinstance(e, ConversationAbandoned)]
    assert len(abandoned) == 1
    assert abandoned[0].reason is AbandonReason.ANOMALY_RESOLVED
    assert "réglée entre-temps" in page.text
    assert late.status_code == 303
    assert not any(isinstance(e, ResolutionChosen) for e in published)


async def test_the_survey_after_delivery(
    chat: RunningChat, producer: AIOKafkaProducer, infrastructure: Infrastructure
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment, anomaly_type=None, delivered=True)
    await chat.learn(producer, [one])
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.SURVEY, subject=shipment)
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        await chat.wait_until_known(client, path)
        missing = await client.post(path, data={"node": "rate", "step": "0"})
        assert missing.status_code == 422
        sent = await client.post(
            path, data={"node": "rate", "step": "0", "csat": "5", "comment": "Parfait"}
        )
        assert sent.status_code == 303
        done = await client.get(path)
        assert "★★★★★" in done.text
    survey = await conversation_events_of(
        infrastructure, merchant_id=MERCHANT, shipment_id=shipment, kind=SurveyAnswered
    )
    assert len(survey) == 1
    assert (survey[0].csat, survey[0].comment) == (5, "Parfait")
