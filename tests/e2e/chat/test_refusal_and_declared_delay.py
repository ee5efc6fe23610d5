"""Refused parcels ask why, and a merchant-declared delay is told with its reason and new
date (issue 16, points 4 and 5), in a real headless Chromium against the real chat,
actions and insights services (Kafka + PostgreSQL), with the merchant's back office as
a local HTTP server.

Refusal: the customer answers "yes, I refused it", "it arrived too late", types a
comment and asks for a refund; the reason (and the comment) reach the ExecuteAction
command on relais.action-commands.v1 and the merchant's webhook body, and the insights
fact keeps the reason without the comment. The merchant does not allow store credit:
the chat does not offer it. Screenshots go to artifacts/screenshots/chat/.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page

from relais_actions.bootstrap import build_spec as actions_spec
from relais_actions.settings import ActionsSettings
from relais_chat.bootstrap import build_spec as chat_spec
from relais_chat.settings import ChatSettings
from relais_chat.ui.presentation import show_date
from relais_contracts.actions import RefundRequest, ReturnReason
from relais_contracts.catalogue import AnomalyType
from relais_contracts.shipment import DeclaredDelay, DelayReason
from relais_contracts.topics import action_commands
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.conversations import ResolutionChosen
from relais_insights.bootstrap import build_spec as insights_spec
from relais_insights.settings import InsightsSettings
from relais_runtime.links import LinkPurpose
from relais_runtime.service import RunningService
from tests.conftest import REPO_ROOT, Infrastructure, drop_schemas, free_port
from tests.e2e.chat.test_chat_in_a_browser import VIEWPORTS, shoot
from tests.integration.actions.merchant_server import MerchantServer, running_merchant_server
from tests.integration.chat.support import (
    LINK_SECRET,
    RunningChat,
    Story,
    conversation_events_of,
    link,
    story,
)
from tests.integration.conftest import eventually, read_topic
from tests.integration.insights.support import SESSION_SECRET

pytestmark = pytest.mark.integration

SOURCE = Path(REPO_ROOT) / "deploy" / "merchants" / "maison-lumiere.yaml"
SECRET_VARIABLE = "TEST_REFUSAL_WEBHOOK_SECRET"


@dataclass(frozen=True)
class Stack:
    chat: RunningChat
    merchant_id: str
    server: MerchantServer
    insights_schema: str
    database_url: str

    async def facts(self, kind: str, shipment_id: str) -> list[dict[str, Any]]:
        connection = await asyncpg.connect(
            self.database_url, server_settings={"search_path": self.insights_schema}
        )
        try:
            rows = await connection.fetch(
                "SELECT detail FROM facts WHERE merchant_id = $1 AND kind = $2"
                " AND shipment_id = $3",
                self.merchant_id,
                kind,
                shipment_id,
            )
        finally:
            await connection.close()
        return [json.loads(row["detail"]) for row in rows]


def write_merchant(directory: Path, merchant_id: str, webhook_url: str) -> None:
    """Maison Lumière (French, informal) under a test id; store credit not allowed."""
    config: dict[str, Any] = yaml.safe_load(SOURCE.read_text())
    config["merchant_id"] = merchant_id
    config["actions"]["webhook"]["url"] = webhook_url
    config["actions"]["webhook"]["secret"] = {"env": SECRET_VARIABLE}
    config["actions"]["allowed"] = ["reship", "refund", "callback_ticket"]
    config["actions"]["automatic"] = []
    (directory / f"{merchant_id}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))


@pytest.fixture(scope="module")
async def stack(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    unique = uuid.uuid4().hex[:10]
    merchant_id = f"refusal-{unique}"
    merchants = tmp_path_factory.mktemp("refusal-merchants")
    schemas = {name: f"test_{name}_{unique}" for name in ("chat", "actions", "insights")}
    common: dict[str, Any] = {
        "kafka_bootstrap": infrastructure.kafka_bootstrap,
        "database_url": infrastructure.database_url,
        "consumer_group_prefix": f"test-{unique}.",
        "consumer_new_groups_start": "now",
        "merchants_dir": merchants,
        "outbox_poll_interval_s": 0.1,
    }
    async with running_merchant_server() as server, httpx.AsyncClient() as http:
        write_merchant(merchants, merchant_id, f"{server.base_url}/refusals")
        chat_settings = ChatSettings(
            **common, http_port=free_port(), customer_link_secrets=[LINK_SECRET]
        )
        actions_settings = ActionsSettings(**common, http_port=free_port())
        insights_settings = InsightsSettings(
            **common, http_port=free_port(), session_secrets=[SESSION_SECRET]
        )
        environ = {SECRET_VARIABLE: secrets.token_hex(32)}
        services: list[RunningService[Any]] = [
            RunningService(replace(chat_spec(), schema=schemas["chat"]), chat_settings),
            RunningService(
                replace(
                    actions_spec(settings=actions_settings, http=http, environ=environ),
                    schema=schemas["actions"],
                ),
                actions_settings,
            ),
            RunningService(replace(insights_spec(), schema=schemas["insights"]), insights_settings),
        ]
        for service in services:
            await service.start()
        try:
            yield Stack(
                chat=RunningChat(
                    f"http://127.0.0.1:{chat_settings.http_port}", chat_settings, schemas["chat"]
                ),
                merchant_id=merchant_id,
                server=server,
                insights_schema=schemas["insights"],
                database_url=infrastructure.database_url,
            )
        finally:
            for service in reversed(services):
                await service.stop()
            await drop_schemas(infrastructure.database_url, list(schemas.values()))


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def open_chat(stack: Stack, browser: Browser, producer: AIOKafkaProducer, one: Story) -> Page:
    assert one.anomaly is not None
    await stack.chat.learn(producer, [one])
    path = link(
        merchant_id=stack.merchant_id,
        purpose=LinkPurpose.CHAT,
        subject=str(one.anomaly.anomaly_id),
    )
    async with httpx.AsyncClient(base_url=stack.chat.base_url) as client:
        await stack.chat.wait_until_known(client, path)
    context = await browser.new_context(viewport=VIEWPORTS["mobile"], locale="fr-FR")
    page = await context.new_page()
    await page.goto(stack.chat.base_url + path)
    return page


async def commands_for(infrastructure: Infrastructure, key: bytes) -> list[ExecuteAction]:
    def mine(records: Any) -> list[ExecuteAction]:
        decoded = [action_commands.TOPIC.decode(r.value) for r in records if r.key == key]
        return [event for event in decoded if isinstance(event, ExecuteAction)]

    records = await read_topic(
        infrastructure.kafka_bootstrap,
        action_commands.TOPIC.name,
        until=lambda records: bool(mine(records)),
        timeout_s=45,
    )
    return mine(records)


async def test_a_refusal_reason_reaches_the_merchant_and_the_insights(
    stack: Stack, browser: Browser, producer: AIOKafkaProducer, infrastructure: Infrastructure
) -> None:
    shipment = f"E2E-{uuid.uuid4().hex[:8]}"
    one = story(
        merchant_id=stack.merchant_id,
        shipment_id=shipment,
        anomaly_type=AnomalyType.REFUSED,
        locale="fr-FR",
    )
    page = await open_chat(stack, browser, producer, one)
    try:
        await page.get_by_text("a été refusé à la livraison").wait_for()
        await page.get_by_role("button", name="Oui, je l'ai refusé").click()
        await page.get_by_text("On peut te demander pourquoi tu l'as refusé ?").wait_for()
        for label in ("J'ai changé d'avis", "Je ne l'ai pas commandé", "Une autre raison"):
            await page.get_by_role("button", name=label).wait_for()
        await shoot(page, "chat-refusal-reasons-mobile")
        await page.get_by_role("button", name="Il est arrivé trop tard").click()
        await page.get_by_text("Tu veux ajouter quelque chose ? (facultatif)").wait_for()
        await page.locator("form.answer textarea[name=text]").fill("Trop tard pour la fête")
        await page.locator("form.answer button.primary").click()
        await page.get_by_role("button", name="Être remboursé").wait_for()
        assert await page.get_by_role("button", name="Un bon d'achat").count() == 0, (
            "store credit is not allowed: not offered"
        )
        await page.get_by_role("button", name="Être remboursé").click()
        await page.get_by_text("on te rembourse la commande").wait_for()
        await shoot(page, "chat-refusal-refund-mobile")
    finally:
        await page.context.close()

    (chosen,) = await conversation_events_of(
        infrastructure, merchant_id=stack.merchant_id, shipment_id=shipment, kind=ResolutionChosen
    )
    assert isinstance(chosen.action, RefundRequest)
    assert chosen.action.customer_reason is not None
    assert chosen.action.customer_reason.reason is ReturnReason.ARRIVED_TOO_LATE

    commands = await commands_for(infrastructure, f"{stack.merchant_id}/{shipment}".encode())
    request = commands[0].request
    assert isinstance(request, RefundRequest)
    assert request.customer_reason is not None
    assert request.customer_reason.reason is ReturnReason.ARRIVED_TOO_LATE
    assert request.customer_reason.comment == "Trop tard pour la fête"

    async def webhook() -> list[Any]:
        return stack.server.requests_to("/refusals")

    received = await eventually(webhook, timeout_s=30)
    assert received, "the merchant's webhook was never called"
    body = json.loads(received[0].body)
    assert body["action"]["customer_reason"] == {
        "reason": "arrived_too_late",
        "comment": "Trop tard pour la fête",
    }, body

    async def fact() -> list[dict[str, Any]]:
        return await stack.facts("action_requested", shipment)

    facts = await eventually(fact, timeout_s=30)
    assert facts
    assert facts[0]["customer_reason"] == "arrived_too_late"
    assert "Trop tard" not in json.dumps(facts), "the comment stays out of the insights"


def declared_late(merchant_id: str, shipment: str) -> tuple[Story, DeclaredDelay]:
    """A late parcel whose merchant declared the delay: the state carries the new promise."""
    one = story(
        merchant_id=merchant_id,
        shipment_id=shipment,
        anomaly_type=AnomalyType.DELIVERY_LATE,
        locale="fr-FR",
    )
    assert one.anomaly is not None
    new_day = date.today() + timedelta(days=6)
    delay = DeclaredDelay(
        reason=DelayReason.STOCK,
        declared_at=datetime.now(UTC) - timedelta(minutes=40),
        new_delivery_by=new_day,
    )
    state = one.state.model_copy(update={"declared_delay": delay, "promised_delivery_by": new_day})
    anomaly = one.anomaly.model_copy(update={"shipment": state.context()})
    return Story(state=state, events=one.events, anomaly=anomaly), delay


async def test_a_declared_delay_is_told_with_its_reason_and_new_date(
    stack: Stack, browser: Browser, producer: AIOKafkaProducer
) -> None:
    shipment = f"E2E-{uuid.uuid4().hex[:8]}"
    one, delay = declared_late(stack.merchant_id, shipment)
    page = await open_chat(stack, browser, producer, one)
    try:
        new_date = show_date(delay.new_delivery_by, locale="fr-FR")
        await page.get_by_text("car un article est en rupture de stock").wait_for()
        await page.get_by_text(f"Elle devrait te parvenir d'ici le {new_date}").wait_for()
        assert await page.get_by_text("il était prévu pour le").count() == 0
        await shoot(page, "chat-declared-delay-fr-mobile")
    finally:
        await page.context.close()
