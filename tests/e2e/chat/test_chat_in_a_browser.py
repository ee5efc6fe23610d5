"""The chat in a real headless Chromium: open a signed link, answer, choose, see the
confirmation, and find the resulting event on relais.conversations.v1.

Needs Debian's `chromium` package (the system browser; Playwright's own browser
download is never used). Screenshots of every page, at desktop and mobile widths,
go to artifacts/screenshots/chat/.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page, ViewportSize

from relais_contracts.actions import ActionType
from relais_contracts.catalogue import AnomalyType
from relais_contracts.topics.conversations import CallbackRequested, ResolutionChosen
from relais_runtime.links import LinkPurpose
from tests.conftest import REPO_ROOT, Infrastructure
from tests.integration.chat.support import (
    RunningChat,
    bookable_day,
    conversation_events_of,
    link,
    running_chat,
    story,
)

pytestmark = pytest.mark.integration


SHOTS = Path(REPO_ROOT) / "artifacts" / "screenshots" / "chat"
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 860},
    "mobile": {"width": 390, "height": 844},
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


async def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")


@pytest.mark.parametrize("width", list(VIEWPORTS))
async def test_a_customer_asks_for_a_new_delivery_day_in_the_browser(
    chat: RunningChat,
    browser: Browser,
    producer: AIOKafkaProducer,
    infrastructure: Infrastructure,
    width: str,
) -> None:
    shipment = f"E2E-{uuid.uuid4().hex[:8]}"
    one = story(merchant_id="maison-lumiere", shipment_id=shipment)
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    path = link(
        merchant_id="maison-lumiere", purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id)
    )
    context = await browser.new_context(viewport=VIEWPORTS[width], locale="fr-FR")
    page = await context.new_page()
    try:
        async with httpx.AsyncClient(base_url=chat.base_url) as client:
            await chat.wait_until_known(client, path)
        await page.goto(chat.base_url + path)
        await page.get_by_text("Salut Camille").wait_for()
        await shoot(page, f"chat-1-question-{width}")
        await page.get_by_role("button", name="Le livrer un autre jour").click()
        day_field = page.get_by_label("Jour")
        await day_field.wait_for()
        assert await day_field.evaluate("el => el === document.activeElement"), (
            "focus moves to the new field"
        )
        await shoot(page, f"chat-2-date-{width}")
        await day_field.fill("2000-01-01")
        await page.get_by_role("button", name="Envoyer").click()
        await page.get_by_text(
            "Merci de choisir un jour dans les deux prochaines semaines."
        ).wait_for()
        await shoot(page, f"chat-3-error-{width}")
        day = bookable_day()
        await page.get_by_label("Jour").fill(day.isoformat())
        await page.get_by_role("button", name="Envoyer").click()
        await page.get_by_text("C'est réservé").wait_for()
        await shoot(page, f"chat-4-confirmation-{width}")
        assert await page.locator("form.answer").count() == 0
    finally:
        await context.close()

    chosen = await conversation_events_of(
        infrastructure, merchant_id="maison-lumiere", shipment_id=shipment, kind=ResolutionChosen
    )
    assert len(chosen) == 1
    assert chosen[0].action is not None
    assert chosen[0].action.action is ActionType.REDELIVERY


async def test_without_javascript_a_callback_request_still_works(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer, infrastructure: Infrastructure
) -> None:
    shipment = f"E2E-{uuid.uuid4().hex[:8]}"
    one = story(
        merchant_id="velocity-sports",
        shipment_id=shipment,
        anomaly_type=AnomalyType.DAMAGED,
        locale="en-GB",
    )
    assert one.anomaly is not None
    await chat.learn(producer, [one])
    path = link(
        merchant_id="velocity-sports", purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id)
    )
    context = await browser.new_context(viewport=VIEWPORTS["mobile"], java_script_enabled=False)
    page = await context.new_page()
    try:
        async with httpx.AsyncClient(base_url=chat.base_url) as client:
            await chat.wait_until_known(client, path)
        await page.goto(chat.base_url + path)
        await page.get_by_role("button", name="Call me back").click()
        await page.get_by_label("Phone number").wait_for()
        day = bookable_day()
        await page.get_by_label("Phone number").fill("+44 7911 123456")
        await page.get_by_label("Day", exact=True).fill(day.isoformat())
        await page.get_by_label("Time of day").select_option("afternoon")
        await shoot(page, "chat-callback-nojs-mobile")
        await page.get_by_role("button", name="Send").click()
        await page.get_by_text("an adviser will call you back").wait_for()
        await shoot(page, "chat-callback-done-nojs-mobile")
    finally:
        await context.close()
    callbacks = await conversation_events_of(
        infrastructure, merchant_id="velocity-sports", shipment_id=shipment, kind=CallbackRequested
    )
    assert len(callbacks) == 1
    assert callbacks[0].phone == "+447911123456"  # normalized to E.164


@pytest.mark.parametrize("width", list(VIEWPORTS))
async def test_tracking_survey_and_refused_pages_render(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer, width: str
) -> None:
    pickup = story(
        merchant_id="maison-lumiere",
        shipment_id=f"E2E-{uuid.uuid4().hex[:8]}",
        anomaly_type=None,
        pickup=True,
    )
    delivered = story(
        merchant_id="velocity-sports",
        shipment_id=f"E2E-{uuid.uuid4().hex[:8]}",
        anomaly_type=None,
        delivered=True,
    )
    await chat.learn(producer, [pickup, delivered])
    tracking = link(
        merchant_id="maison-lumiere", purpose=LinkPurpose.TRACKING, subject=pickup.state.shipment_id
    )
    survey = link(
        merchant_id="velocity-sports",
        purpose=LinkPurpose.SURVEY,
        subject=delivered.state.shipment_id,
    )
    context = await browser.new_context(viewport=VIEWPORTS[width])
    page = await context.new_page()
    try:
        async with httpx.AsyncClient(base_url=chat.base_url) as client:
            await chat.wait_until_known(client, tracking)
            await chat.wait_until_known(client, survey)
        await page.goto(chat.base_url + tracking)
        point = pickup.state.delivery.pickup_point
        assert point is not None
        await page.get_by_text(point.name).first.wait_for()
        await shoot(page, f"tracking-{width}")
        await page.goto(chat.base_url + survey)
        await page.locator("label.score").nth(3).click()
        await shoot(page, f"survey-{width}")
        await page.get_by_role("button", name="Envoyer").click()
        await page.get_by_text("★★★★☆").wait_for()
        await shoot(page, f"survey-done-{width}")
        response = await page.goto(chat.base_url + "/c/not-a-valid-token")
        assert response is not None
        assert response.status == 403
        await shoot(page, f"link-refused-{width}")
    finally:
        await context.close()
