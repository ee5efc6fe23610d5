"""The tracking, lookup and survey pages in German, Spanish, Italian and Dutch, in a
real Chromium against the real chat (Kafka + PostgreSQL): velocity-sports serves the
six languages, so a `de-AT`, `es-ES`, `it-IT` or `nl-BE` customer reads the pages'
words from the gettext catalogues in their language, and `<html lang>` says which.
The expected words are written here, not read from the catalogues, so a wrong or
missing translation fails. Screenshots go to artifacts/screenshots/chat/.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page

from relais_contracts.tracking import Substatus
from relais_contracts.tracking import TrackingStatus as S
from relais_runtime.links import LinkPurpose
from tests.conftest import Infrastructure
from tests.e2e.chat.test_chat_in_a_browser import VIEWPORTS, shoot
from tests.integration.chat.support import RunningChat, Story, link, running_chat, story

pytestmark = pytest.mark.integration

MERCHANT = "velocity-sports"


@dataclass(frozen=True)
class Expected:
    locale: str
    stepper: tuple[str, ...]
    """ordered, prepared, shipped, out for delivery, delivered."""
    fact: str
    """The timeline's sentence of ARRIVED_AT_FACILITY."""
    lookup_button: str
    survey_title: str
    send: str


EXPECTED = {
    "de": Expected(
        "de-AT",
        ("Bestellt", "Vorbereitet", "Versandt", "In Zustellung", "Zugestellt"),
        "Ihr Paket ist in einem Paketzentrum angekommen.",
        "Bestellung verfolgen",
        "Ihre Meinung",
        "Senden",
    ),
    "es": Expected(
        "es-ES",
        ("Pedido", "Preparado", "Enviado", "En reparto", "Entregado"),
        "Su paquete ha llegado a un centro de clasificación.",
        "Seguir mi pedido",
        "Su opinión",
        "Enviar",
    ),
    "it": Expected(
        "it-IT",
        ("Ordinato", "Preparato", "Spedito", "In consegna", "Consegnato"),
        "Il suo pacco è arrivato in un centro di smistamento.",
        "Segui il mio ordine",
        "La sua opinione",
        "Invia",
    ),
    "nl": Expected(
        "nl-BE",
        ("Besteld", "Klaargemaakt", "Verzonden", "Wordt bezorgd", "Bezorgd"),
        "Uw pakket is aangekomen in een sorteercentrum.",
        "Mijn bestelling volgen",
        "Uw mening",
        "Versturen",
    ),
}


@pytest.fixture(scope="module")
async def chat(infrastructure: Infrastructure) -> AsyncIterator[RunningChat]:
    async with running_chat(infrastructure, unique=uuid.uuid4().hex[:10]) as running:
        yield running


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


def shipment_id() -> str:
    return f"E2E-{uuid.uuid4().hex[:8]}"


def in_transit(locale: str) -> Story:
    one = story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None, locale=locale)
    state = one.state.model_copy(
        update={"status": S.IN_TRANSIT, "substatus": Substatus.ARRIVED_AT_FACILITY}
    )
    return Story(state=state, events=one.events, anomaly=one.anomaly)


async def known(chat: RunningChat, *paths: str) -> None:
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        for path in paths:
            await chat.wait_until_known(client, path)


async def html_lang(page: Page) -> str | None:
    return await page.locator("html").get_attribute("lang")


@pytest.mark.parametrize("language", list(EXPECTED))
async def test_tracking_lookup_and_survey_pages_speak_the_customers_language(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer, language: str
) -> None:
    expected = EXPECTED[language]
    moving = in_transit(expected.locale)
    delivered = story(
        merchant_id=MERCHANT,
        shipment_id=shipment_id(),
        anomaly_type=None,
        delivered=True,
        locale=expected.locale,
    )
    await chat.learn(producer, [moving, delivered])
    tracking = link(
        merchant_id=MERCHANT, purpose=LinkPurpose.TRACKING, subject=moving.state.shipment_id
    )
    survey = link(
        merchant_id=MERCHANT, purpose=LinkPurpose.SURVEY, subject=delivered.state.shipment_id
    )
    await known(chat, tracking, survey)
    # The browser asks for English: the tracking and survey pages follow the customer's
    # locale on the shipment, the lookup page follows ?lang=.
    context = await browser.new_context(viewport=VIEWPORTS["mobile"], locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(chat.base_url + tracking)
        assert await html_lang(page) == language
        labels = await page.locator(".stepper li .label").all_inner_texts()
        assert tuple(label.strip() for label in labels) == expected.stepper
        await page.get_by_text(expected.fact).first.wait_for()
        await shoot(page, f"tracking-{language}-mobile")

        await page.goto(f"{chat.base_url}/track/{MERCHANT}?lang={language}")
        assert await html_lang(page) == language
        await page.get_by_role("button", name=expected.lookup_button).wait_for()
        await shoot(page, f"lookup-{language}-mobile")

        await page.goto(chat.base_url + survey)
        assert await html_lang(page) == language
        await page.get_by_text(expected.survey_title).first.wait_for()
        await page.get_by_role("button", name=expected.send).wait_for()
        await shoot(page, f"survey-{language}-mobile")
    finally:
        await context.close()


async def test_the_lookup_page_follows_the_browsers_language(
    browser: Browser, chat: RunningChat
) -> None:
    """No ?lang=: the first Accept-Language tag the merchant serves (de-AT -> de); a
    language it does not serve (pt) gives its default (en)."""
    for locale, language, button in (
        ("de-AT", "de", "Bestellung verfolgen"),
        ("pt-PT", "en", "Track my order"),
    ):
        context = await browser.new_context(locale=locale)
        page = await context.new_page()
        try:
            await page.goto(f"{chat.base_url}/track/{MERCHANT}")
            assert await html_lang(page) == language
            await page.get_by_role("button", name=button).wait_for()
        finally:
            await context.close()
