"""The desk's answer reaches the customer's chat, on real Kafka and PostgreSQL: an
AnswerCustomer on relais.desk-replies.v1 is stored once (a replay adds nothing), shown
on the chat page of its anomaly as "Answer from <merchant>" with its line breaks, never
on the survey page, and erased with the shipment."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from relais_contracts import ids
from relais_contracts.topics import desk_replies
from relais_runtime.kafka import publish_events
from relais_runtime.links import LinkPurpose
from tests.conftest import Infrastructure
from tests.integration.chat.support import RunningChat, _example, link, running_chat, story
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

MERCHANT = "maison-lumiere"


@pytest.fixture(scope="module")
async def chat(infrastructure: Infrastructure) -> AsyncIterator[RunningChat]:
    async with running_chat(infrastructure, unique=uuid.uuid4().hex[:10]) as running:
        yield running


async def test_an_answer_from_the_desk_shows_in_the_chat(
    chat: RunningChat, producer: AIOKafkaProducer
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment)
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    answer_id = uuid.uuid4()
    example = _example("AnswerCustomer-fr.json", desk_replies.TOPIC)
    answer = example.model_copy(
        update={
            "event_id": answer_id,
            "answer_id": answer_id,
            "merchant_id": MERCHANT,
            "shipment_id": shipment,
            "correlation_id": shipment,
            "anomaly_id": one.anomaly.anomaly_id,
            "conversation_id": ids.conversation_id(MERCHANT, one.anomaly.anomaly_id),
            "occurred_at": datetime.now(UTC),
            "text": "Bonjour,\nvotre colis repart demain.",
            "agent_name": "Inès",
        }
    )
    for _ in range(2):  # a replay stores nothing twice
        await publish_events(producer, topic=desk_replies.TOPIC.name, events=[answer])
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id))
    async with httpx.AsyncClient(base_url=chat.base_url) as client:

        async def shown() -> httpx.Response | None:
            page = await client.get(path)
            return page if "data-agent-answer" in page.text else None

        page = await eventually(shown, timeout_s=45)
        assert isinstance(page, httpx.Response), "the answer never showed"
        assert "Réponse de Maison Lumière" in page.text
        assert "votre colis repart demain." in page.text
        assert "Inès" in page.text
        assert page.text.count("data-agent-answer") == 1
    connection = await chat.connect()
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM agent_answers WHERE shipment_id = $1", shipment
        )
    finally:
        await connection.close()
    assert stored == 1
