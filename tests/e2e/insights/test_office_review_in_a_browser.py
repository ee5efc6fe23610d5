"""The back office's review queue in a real headless Chromium, on the insights service fed
through real Kafka: an agent signs in, follows "Review" (its badge counts the message
waiting longer than the limit), sends the late message and sees it leave the queue
(screenshots under artifacts/).

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from argon2 import PasswordHasher
from playwright.async_api import Browser

from relais_contracts.envelope import Event
from relais_contracts.topics import notifications, shipment_state
from relais_insights.domain.office import Role
from relais_insights.service import office_users
from tests.conftest import Infrastructure
from tests.e2e.insights.test_office_orders_in_a_browser import SHOTS
from tests.integration.conftest import eventually
from tests.integration.insights.support import (
    RunningInsights,
    create_topics,
    delete_topics,
    now_utc,
    running_insights,
    to_test_topics,
    write_merchants,
)
from tests.integration.insights.test_office_orders_projection import publish
from tests.integration.insights.test_office_review import held, state

pytestmark = pytest.mark.integration

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
WAITS = {"late": timedelta(hours=3), "fresh": timedelta(minutes=5)}


@pytest.fixture(scope="module")
async def office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningInsights, str, str, dict[str, str]]]:
    """The running service with two held messages of one merchant (review ids by name)
    and an agent's password."""
    unique = uuid.uuid4().hex[:8]
    directory = tmp_path_factory.mktemp("merchants")
    merchant, _ = write_merchants(directory, unique)
    merchant_id = merchant.merchant_id
    topics = await create_topics(infrastructure, unique)
    try:
        async with running_insights(
            infrastructure, unique=unique, merchants_dir=directory
        ) as running:
            now = now_utc().replace(microsecond=0)
            reviews = {
                name: held(merchant_id, f"B-{name}-{unique}", at=now - wait)
                for name, wait in WAITS.items()
            }
            events: list[tuple[str, Event]] = [
                (shipment_state.TOPIC.name, state(merchant_id, r.shipment_id, f"#R-{name}", at=now))
                for name, r in reviews.items()
            ]
            events += [(notifications.TOPIC.name, r) for r in reviews.values()]
            await publish(infrastructure, to_test_topics(events, unique))
            connection = await asyncpg.connect(
                infrastructure.database_url, server_settings={"search_path": running.schema}
            )
            try:

                async def projected() -> bool:
                    count = await connection.fetchval(
                        "SELECT count(*) FROM office_reviews r JOIN office_shipments s"
                        " USING (merchant_id, shipment_id) WHERE r.merchant_id = $1",
                        merchant_id,
                    )
                    return bool(count == len(WAITS))

                assert await eventually(projected, timeout_s=60)
                password = secrets.token_urlsafe(12)
                await office_users.add_user(
                    connection,
                    CHEAP_HASHER,
                    merchant_id=merchant_id,
                    email="agent@example.test",
                    display_name="Agent Smith",
                    role=Role.AGENT,
                    language="en",
                    password=password,
                    at=datetime.now(UTC),
                )
            finally:
                await connection.close()
            ids = {name: str(r.review_id) for name, r in reviews.items()}
            yield running, merchant_id, password, ids
    finally:
        await delete_topics(infrastructure, topics)


async def test_an_agent_sends_a_held_message_and_it_leaves_the_queue(
    office: tuple[RunningInsights, str, str, dict[str, str]], browser: Browser
) -> None:
    running, merchant_id, password, ids = office
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(f"{running.base_url}/office/{merchant_id}/orders?lang=en")
        await page.get_by_label("Email").fill("agent@example.test")
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="Orders").wait_for()

        await page.locator("nav a", has_text="Review").click()
        await page.get_by_role("heading", name="Review").wait_for()
        rows = page.locator("table.review tbody tr")
        assert await rows.count() == len(WAITS)
        late = page.locator(f'tr[data-review="{ids["late"]}"]')
        assert await late.get_attribute("class") == "over-limit"
        assert await page.locator("nav .badge").inner_text() == "1"
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "office-review-queue.png"), full_page=True)

        await late.get_by_role("button", name="Send").click()
        await page.wait_for_url("**done=send**")
        await page.get_by_role("status").wait_for()
        assert "customer will be told" in await page.get_by_role("status").inner_text()
        assert await rows.count() == 1
        assert await page.locator(f'tr[data-review="{ids["fresh"]}"]').count() == 1
        assert await page.locator(f'tr[data-review="{ids["late"]}"]').count() == 0
        assert await page.locator("nav .badge").count() == 0
        await page.screenshot(path=str(SHOTS / "office-review-sent.png"), full_page=True)
    finally:
        await context.close()
