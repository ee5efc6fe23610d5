"""The back office's review queue in a real headless Chromium, on the insights service fed
through real Kafka: an agent signs in, follows "Review" (its badge counts the message
waiting longer than the limit), sends the late message and sees it leave the queue
(screenshots under artifacts/).

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser

from relais_contracts.envelope import Event
from relais_contracts.topics import notifications, shipment_state
from tests.conftest import Infrastructure
from tests.e2e.insights.office_browser import (
    AGENT_EMAIL,
    SHOTS,
    Office,
    running_office,
    signed_in_page,
)
from tests.integration.insights.support import now_utc
from tests.integration.insights.test_office_review import held, state

pytestmark = pytest.mark.integration

WAITS = {"late": timedelta(hours=3), "fresh": timedelta(minutes=5)}
REVIEWS_PROJECTED = (
    "SELECT count(*) FROM office_reviews r JOIN office_shipments s"
    " USING (merchant_id, shipment_id) WHERE r.merchant_id = $1"
)


@pytest.fixture(scope="module")
async def agent_office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Office, str, dict[str, str]]]:
    """The running office with two held messages of one merchant (review ids by name)
    and an agent's password."""
    async with running_office(infrastructure, tmp_path_factory) as office:
        merchant_id, unique = office.merchant_id, office.unique
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
        await office.publish(events)
        await office.wait_for_count(REVIEWS_PROJECTED, len(WAITS))
        ids = {name: str(r.review_id) for name, r in reviews.items()}
        yield office, await office.add_user(), ids


async def test_an_agent_sends_a_held_message_and_it_leaves_the_queue(
    agent_office: tuple[Office, str, dict[str, str]], browser: Browser
) -> None:
    office, password, ids = agent_office
    async with signed_in_page(browser, office, email=AGENT_EMAIL, password=password) as page:
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
