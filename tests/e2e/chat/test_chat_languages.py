"""The chat speaks the customer's language: a `de-DE` customer's chat about a failed
delivery attempt is in German, an `nl-BE` customer's in Dutch, in a real headless
Chromium against the real chat (Kafka + PostgreSQL), for a merchant whose locales are
English, German and Dutch and whose tone is formal (Sie, u).

The scenario texts are checked here; the page's fixed words (buttons, field labels)
belong to the chat.po catalogues (test_pages_in_four_languages.py). Screenshots go to
artifacts/screenshots/chat/.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page

from relais_chat.bootstrap import build_spec
from relais_chat.settings import ChatSettings
from relais_contracts.actions import ActionType
from relais_contracts.topics.conversations import ConversationStarted, ResolutionChosen
from relais_runtime.links import LinkPurpose
from relais_runtime.service import RunningService
from tests.conftest import Infrastructure, drop_schemas, free_port
from tests.e2e.chat.test_chat_in_a_browser import VIEWPORTS, shoot
from tests.integration.chat.support import (
    LINK_SECRET,
    RunningChat,
    bookable_day,
    conversation_events_of,
    link,
    story,
)

pytestmark = pytest.mark.integration

MERCHANT = "polyglot-home"
LANGUAGES = ["en", "de", "nl"]


def merchant_file() -> dict[str, object]:
    return {
        "merchant_id": MERCHANT,
        "branding": {"display_name": "Polyglot Home", "bot_name": "Lou", "tone": "formal"},
        "locales": LANGUAGES,
        "time_zone": "Europe/Berlin",
    }


@pytest.fixture(scope="module")
async def chat(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningChat]:
    root = tmp_path_factory.mktemp("languages")
    merchants = root / "merchants"
    merchants.mkdir()
    (merchants / f"{MERCHANT}.yaml").write_text(yaml.safe_dump(merchant_file()), encoding="utf-8")
    unique = uuid.uuid4().hex[:10]
    schema = f"test_chat_{unique}"
    settings = ChatSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        http_port=free_port(),
        consumer_group_prefix=f"test-{unique}.",
        customer_link_secrets=[LINK_SECRET],
        merchants_dir=str(merchants),
        outbox_poll_interval_s=0.1,
    )
    service = RunningService(replace(build_spec(), schema=schema), settings)
    await service.start()
    try:
        yield RunningChat(f"http://127.0.0.1:{settings.http_port}", settings, schema)
    finally:
        await service.stop()
        await drop_schemas(infrastructure.database_url, [schema])


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def open_failed_attempt_chat(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer, locale: str
) -> tuple[Page, str]:
    """A failed_attempt anomaly for a customer of `locale`, its chat open in the browser."""
    shipment = f"E2E-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id=MERCHANT, shipment_id=shipment, locale=locale)
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    path = link(merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id))
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        await chat.wait_until_known(client, path)
    context = await browser.new_context(viewport=VIEWPORTS["mobile"], locale=locale)
    page = await context.new_page()
    await page.goto(chat.base_url + path)
    return page, shipment


async def test_a_german_customer_reads_the_chat_in_german(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer, infrastructure: Infrastructure
) -> None:
    page, shipment = await open_failed_attempt_chat(chat, browser, producer, "de-DE")
    try:
        await page.get_by_text("ich bin Lou von Polyglot Home").wait_for()
        await page.get_by_text("konnte es Ihnen aber nicht übergeben").wait_for()
        await page.get_by_text("Wie möchten Sie es erhalten?").wait_for()
        await page.get_by_role("button", name="An eine Abholstelle senden").wait_for()
        await shoot(page, "chat-de-question-mobile")
        await page.get_by_role("button", name="An einem anderen Tag liefern").click()
        await page.get_by_text("Welcher Tag passt Ihnen für eine neue Zustellung?").wait_for()
        await page.locator("form.answer input[name=day]").fill(bookable_day().isoformat())
        await page.locator("form.answer button.primary").click()
        await page.get_by_text("stellt Ihr Paket am gewählten Tag zu").wait_for()
        await shoot(page, "chat-de-confirmation-mobile")
        assert await page.get_by_text("Hello Camille").count() == 0
    finally:
        await page.context.close()
    started = await conversation_events_of(
        infrastructure, merchant_id=MERCHANT, shipment_id=shipment, kind=ConversationStarted
    )
    assert started[0].locale == "de-DE"
    chosen = await conversation_events_of(
        infrastructure, merchant_id=MERCHANT, shipment_id=shipment, kind=ResolutionChosen
    )
    assert chosen[0].action is not None
    assert chosen[0].action.action is ActionType.REDELIVERY


async def test_a_belgian_dutch_customer_reads_the_chat_in_dutch(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer
) -> None:
    page, _ = await open_failed_attempt_chat(chat, browser, producer, "nl-BE")
    try:
        await page.get_by_text("ik ben Lou van Polyglot Home").wait_for()
        await page.get_by_text("maar kon het niet aan u overhandigen").wait_for()
        await page.get_by_text("Hoe wilt u het ontvangen?").wait_for()
        await page.get_by_role("button", name="Op een andere dag bezorgen").wait_for()
        await shoot(page, "chat-nl-question-mobile")
        await page.get_by_role("button", name="Het adres klopt niet").click()
        await page.get_by_text("Wat is het juiste bezorgadres?").wait_for()
        await shoot(page, "chat-nl-address-mobile")
        assert await page.get_by_text("Hello Camille").count() == 0
    finally:
        await page.context.close()
