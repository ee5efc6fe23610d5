"""The level-2 desk in a real headless Chromium, on the insights service fed through real
Kafka: a customer's CallbackRequested (with its transcript) opens a case through the
insights consumer; an agent signs in, opens the Desk, opens the case, assigns it to
themself, answers the customer and closes it; the page shows the answer and the status
done (screenshots under artifacts/).

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from playwright.async_api import Browser

from relais_contracts import ids
from relais_contracts.topics import conversations
from relais_contracts.topics.conversations import CallbackRequested
from relais_insights.domain.office import Role
from relais_insights.service import office_users
from tests.conftest import Infrastructure
from tests.e2e.insights.test_office_orders_in_a_browser import CHEAP_HASHER, SHOTS, numbered
from tests.integration.conftest import eventually
from tests.integration.insights.support import (
    RunningInsights,
    _example,
    _with,
    busy_parcel,
    create_topics,
    delete_topics,
    now_utc,
    running_insights,
    to_test_topics,
    write_merchants,
)
from tests.integration.insights.test_office_orders_projection import publish

pytestmark = pytest.mark.integration

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
) -> AsyncIterator[tuple[RunningInsights, str, str, str]]:
    unique = uuid.uuid4().hex[:8]
    directory = tmp_path_factory.mktemp("merchants")
    merchant, _ = write_merchants(directory, unique)
    merchant_id = merchant.merchant_id
    topics = await create_topics(infrastructure, unique)
    try:
        async with running_insights(
            infrastructure, unique=unique, merchants_dir=directory
        ) as running:
            now = now_utc()
            events = numbered(busy_parcel(merchant_id, 0, now=now), 0)
            events.append((conversations.TOPIC.name, callback(merchant_id, now=now)))
            await publish(infrastructure, to_test_topics(events, unique))
            connection = await asyncpg.connect(
                infrastructure.database_url, server_settings={"search_path": running.schema}
            )
            try:

                async def opened() -> bool:
                    return bool(
                        await connection.fetchval(
                            "SELECT count(*) FROM desk_cases WHERE merchant_id = $1", merchant_id
                        )
                    )

                assert await eventually(opened, timeout_s=60)
                password = secrets.token_urlsafe(12)
                await office_users.add_user(
                    connection,
                    CHEAP_HASHER,
                    merchant_id=merchant_id,
                    email="desk-agent@example.test",
                    display_name="Nadia Desk",
                    role=Role.AGENT,
                    language="en",
                    password=password,
                    at=datetime.now(UTC),
                )
            finally:
                await connection.close()
            yield running, merchant_id, "desk-agent@example.test", password
    finally:
        await delete_topics(infrastructure, topics)


async def test_an_agent_assigns_answers_and_closes_a_case(
    desk_office: tuple[RunningInsights, str, str, str], browser: Browser
) -> None:
    running, merchant_id, email, password = desk_office
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(f"{running.base_url}/office/{merchant_id}/orders?lang=en")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
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
    finally:
        await context.close()
