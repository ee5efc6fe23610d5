"""The back office's orders in a real headless Chromium, on the insights service fed through
real Kafka: sign in as a merchant user, filter the list by an open anomaly type, search by
order number, open the order and read its timeline (screenshots under artifacts/).

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from tests.conftest import Infrastructure
from tests.e2e.insights.office_browser import (
    AGENT_EMAIL,
    SHOTS,
    Office,
    office_with_parcels,
    signed_in_page,
)

pytestmark = pytest.mark.integration

PARCELS = 12


@pytest.fixture(scope="module")
async def agent_office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Office, str]]:
    """The running office with PARCELS projected parcels and an agent's password."""
    async with office_with_parcels(infrastructure, tmp_path_factory, PARCELS) as ready:
        yield ready


async def test_an_agent_signs_in_filters_searches_and_opens_a_timeline(
    agent_office: tuple[Office, str], browser: Browser
) -> None:
    office, password = agent_office
    async with signed_in_page(browser, office, email=AGENT_EMAIL, password=password) as page:
        rows = page.locator("table.orders tbody tr")
        assert await rows.count() == PARCELS

        await page.get_by_label("Resolved").select_option("true")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**resolved=true**")
        resolved = await rows.count()
        assert 0 < resolved < PARCELS
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "office-orders-filtered.png"), full_page=True)

        await page.get_by_role("link", name="Clear").click()
        await page.get_by_label("Search").fill("#E002")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**q=**")
        assert await rows.count() == 1
        await page.get_by_role("link", name="#E002").click()
        await page.get_by_role("heading", name="Order #E002").wait_for()
        timeline = page.locator("ol.timeline li")
        kinds = [await item.get_attribute("data-kind") for item in await timeline.all()]
        assert kinds[0] == "order_placed"
        assert "anomaly_raised" in kinds
        assert "message" in kinds
        assert kinds.index("anomaly_raised") < kinds.index("message")
        await page.screenshot(path=str(SHOTS / "office-order-timeline.png"), full_page=True)

        await page.get_by_role("link", name="FR", exact=True).click()
        await page.get_by_role("heading", name="Historique").wait_for()
