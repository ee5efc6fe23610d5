"""The level-2 desk in a real headless Chromium, on the insights service fed through real
Kafka: a customer's CallbackRequested (with its transcript) opens a case through the
insights consumer; an agent signs in, opens the Desk, opens the case, assigns it to
themself, answers the customer and closes it; the page shows the answer and the status
done (screenshots under artifacts/).

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from playwright.async_api import Browser

from relais_contracts import ids
from relais_contracts.topics import conversations
from relais_contracts.topics.conversations import CallbackRequested
from tests.conftest import Infrastructure
from tests.e2e.insights.office_browser import (
    SHOTS,
    Office,
    numbered_parcels,
    running_office,
    signed_in_page,
)
from tests.integration.insights.support import _example, _with, now_utc

pytestmark = pytest.mark.integration

AGENT_EMAIL = "desk-agent@example.test"
CASES_OPENED = "SELECT count(*) FROM desk_cases WHERE merchant_id = $1"
ANSWER = "Bonjour Camille, votre colis repart demain matin : vous le recevrez jeudi."


def callback(merchant_id: str, *, now: datetime) -> CallbackRequested:
    """The callback the customer of parcel b0 (order #E000) asked for in the chat."""
    shipment = f"{merchant_id}-b0"
    anomaly_id = ids.anomaly_id(merchant_id, shipment, "delivery_late")
    conversation_id = ids.conversation_id(merchant_id, anomaly_id)
    example = _example(conversations.TOPIC, "CallbackRequested-fr.json")
    slot = example.slot.model_copy(
        update={"start": now + timedelta(hours=4), "end": now + timedelta(hours=6)}
    )
    event: CallbackRequested = _with(
        example,
        merchant_id,
        "desk-callback",
        now - timedelta(minutes=5),
        shipment_id=shipment,
        correlation_id=shipment,
        order_id=f"{merchant_id}-bo0",
        anomaly_id=anomaly_id,
        conversation_id=conversation_id,
        callback_id=ids.callback_id(conversation_id),
        slot=slot,
    )
    return event


@pytest.fixture(scope="module")
async def desk_office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Office, str]]:
    """The running office with parcel b0, the case its customer's callback opened, and
    an agent's password."""
    async with running_office(infrastructure, tmp_path_factory) as office:
        now = now_utc()
        events = numbered_parcels(office.merchant_id, 1, now=now)
        events.append((conversations.TOPIC.name, callback(office.merchant_id, now=now)))
        await office.publish(events)
        await office.wait_for_count(CASES_OPENED, 1)
        yield office, await office.add_user(email=AGENT_EMAIL, display_name="Nadia Desk")


async def test_an_agent_assigns_answers_and_closes_a_case(
    desk_office: tuple[Office, str], browser: Browser
) -> None:
    office, password = desk_office
    async with signed_in_page(browser, office, email=AGENT_EMAIL, password=password) as page:
        await page.get_by_role("link", name="Desk", exact=True).click()
        await page.get_by_role("heading", name="Desk").wait_for()
        rows = page.locator("table.desk tbody tr")
        assert await rows.count() == 1
        assert "Callback" in await rows.first.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "office-desk-queue.png"), full_page=True)

        await rows.first.get_by_role("link").click()
        await page.get_by_role("heading", name="Conversation").wait_for()
        assert await page.locator("ol.transcript li").count() >= 6, "the attached transcript"
        assert await page.locator("dd[data-status]").get_attribute("data-status") == "new"

        await page.get_by_role("button", name="Assign to me").click()
        await page.wait_for_load_state()
        assert await page.locator("dd[data-assignee]").inner_text() == "Nadia Desk"

        await page.get_by_label("Answer the customer").fill(ANSWER)
        await page.get_by_role("button", name="Send the answer").click()
        await page.locator("li[data-answer]").wait_for()
        assert ANSWER in await page.locator("li[data-answer]").inner_text()

        await page.get_by_label("Status").select_option("done")
        await page.get_by_role("button", name="Set status").click()
        await page.locator('dd[data-status="done"]').wait_for()
        assert await page.locator("dd[data-status]").inner_text() == "Done"
        assert ANSWER in await page.locator("li[data-answer]").inner_text()
        await page.screenshot(path=str(SHOTS / "office-desk-case-done.png"), full_page=True)
