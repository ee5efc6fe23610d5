"""A merchant's broadcast with a chat scenario, against a real Kafka and PostgreSQL: the
notifier's link opens that scenario for the shipment, in the customer's language, and
the customer's choice is published on relais.conversations.v1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from relais_contracts.topics.conversations import (
    AnswerRecorded,
    ConversationPurpose,
    ConversationStarted,
    ResolutionChosen,
)
from relais_contracts.topics.notification_commands import (
    BroadcastContent,
    BroadcastText,
    campaign_message_id,
)
from relais_contracts.topics.notifications import LinkKind
from relais_notifier.domain.commands import broadcast_link
from relais_runtime.links import LinkPurpose
from tests.conftest import Infrastructure
from tests.integration.chat.support import (
    RunningChat,
    conversation_events,
    link,
    running_chat,
    story,
)

MERCHANT = "velocity-sports"  # formal, six languages


@pytest.fixture(scope="module")
async def chat(infrastructure: Infrastructure) -> AsyncIterator[RunningChat]:
    async with running_chat(infrastructure, unique=uuid.uuid4().hex[:10]) as running:
        yield running


def strike_content(scenario_id: str) -> BroadcastContent:
    return BroadcastContent(
        texts=(BroadcastText(locale="en", subject="Carrier strike", body="Deliveries are late."),),
        chat_scenario_id=scenario_id,
    )


async def test_the_broadcast_link_opens_the_carrier_strike_chat_and_records_the_choice(
    chat: RunningChat, producer: AIOKafkaProducer, infrastructure: Infrastructure
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment, anomaly_type=None, locale="de-DE")
    await chat.learn(producer, [one])
    message_id = campaign_message_id(MERCHANT, uuid.uuid4(), shipment)
    kind, subject = broadcast_link(strike_content("default/carrier_strike"), message_id, shipment)
    assert kind is LinkKind.CHAT
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=subject)
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        page = await client.get(path)
        assert page.status_code == 200
        assert "Ein Streik beim Versanddienstleister" in page.text
        assert "Was sollen wir für Sie tun?" in page.text
        for choice in ("wait", "callback"):
            assert f'value="{choice}"' in page.text
        assert 'value="refund"' not in page.text
        chose = await client.post(path, data={"node": "choose", "step": "0", "choice": "wait"})
        assert chose.status_code == 303
        again = await client.get(path)  # a re-click resumes the same conversation
        assert "Vielen Dank für Ihre Geduld" in again.text
        assert 'method="post"' not in again.text

    published = await conversation_events(
        infrastructure,
        key=f"{MERCHANT}/{shipment}".encode(),
        until=lambda events: any(isinstance(event, AnswerRecorded) for event in events),
    )
    started = [event for event in published if isinstance(event, ConversationStarted)]
    answers = [event for event in published if isinstance(event, AnswerRecorded)]
    assert len(started) == 1
    assert started[0].campaign_message_id == message_id
    assert (started[0].purpose, started[0].anomaly_id) == (ConversationPurpose.ANOMALY, None)
    assert started[0].scenario_id == "default/carrier_strike"
    assert started[0].locale == "de-DE"
    assert [(answer.node_id, answer.answer.choice_id) for answer in answers] == [("choose", "wait")]
    assert not any(isinstance(event, ResolutionChosen) for event in published)


async def test_a_broadcast_link_naming_no_broadcast_scenario_is_not_found(
    chat: RunningChat, producer: AIOKafkaProducer
) -> None:
    shipment = f"SHP-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment, anomaly_type=None)
    await chat.learn(producer, [one])
    message_id = campaign_message_id(MERCHANT, uuid.uuid4(), shipment)
    _, subject = broadcast_link(strike_content("default/delivery_late"), message_id, shipment)
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=subject)
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        assert (await client.get(path)).status_code == 404
