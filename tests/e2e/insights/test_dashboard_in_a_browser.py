"""The merchant dashboard in a real headless Chromium: sign in with the API key, see
the charts and a figure, switch language and period, export CSV; the screenshot for
the docs goes to docs/screenshots/insights-dashboard.png.

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser

from relais_contracts.envelope import Event
from relais_runtime.kafka import publish_events
from tests.conftest import REPO_ROOT, Infrastructure
from tests.integration.conftest import eventually
from tests.integration.insights.support import (
    RunningInsights,
    Tenant,
    busy_parcel,
    create_topics,
    delete_topics,
    now_utc,
    running_insights,
    to_test_topics,
    write_merchants,
)

pytestmark = pytest.mark.integration


SCREENSHOT = Path(REPO_ROOT) / "docs" / "screenshots" / "insights-dashboard.png"
SHOTS = Path(REPO_ROOT) / "artifacts" / "screenshots" / "insights"
PARCELS = 24


@pytest.fixture(scope="module")
async def dashboard(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningInsights, Tenant]]:
    unique = uuid.uuid4().hex[:8]
    directory = tmp_path_factory.mktemp("merchants")
    merchant, _ = write_merchants(directory, unique)
    topics = await create_topics(infrastructure, unique)
    try:
        async with running_insights(
            infrastructure,
            unique=unique,
            merchants_dir=directory,
        ) as running:
            now = now_utc()
            events: list[tuple[str, Event]] = []
            for index in range(PARCELS):
                events += busy_parcel(merchant.merchant_id, index, now=now)
            producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap)
            await producer.start()
            try:
                for topic, event in to_test_topics(events, unique):
                    await publish_events(producer, topic=topic, events=[event])
            finally:
                await producer.stop()
            facts = sum(1 for topic, _ in events if "shipment-state" not in topic)

            async def consumed() -> bool:
                return await running.fact_count(merchant.merchant_id) == facts

            assert await eventually(consumed, timeout_s=60)
            yield running, merchant
    finally:
        await delete_topics(infrastructure, topics)


async def test_a_merchant_signs_in_and_reads_its_dashboard(
    dashboard: tuple[RunningInsights, Tenant], browser: Browser
) -> None:
    running, merchant = dashboard
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = await context.new_page()
    try:
        await page.goto(f"{running.base_url}/insights/{merchant.merchant_id}")
        await page.get_by_label("Clé d'API").fill("rk_wrong_key")
        await page.get_by_role("button", name="Se connecter").click()
        await page.get_by_text("Cette clé n'ouvre pas").wait_for()
        await page.get_by_label("Clé d'API").fill(merchant.key)
        await page.get_by_role("button", name="Se connecter").click()
        await page.get_by_role("heading", name="Anomalies par type").wait_for()
        assert await page.locator("svg.chart").count() >= 6
        assert await page.locator("svg.chart rect.bar").count() > 10
        parcels = await page.locator('[data-kpi="parcels"]').inner_text()
        assert parcels.strip() == str(PARCELS)
        money = await page.locator('[data-kpi="money_saved"]').inner_text()
        assert "€" in money
        await page.get_by_text("Ce que Relais a fait économiser").wait_for()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True, animations="disabled")

        await page.get_by_role("link", name="EN", exact=True).click()
        await page.get_by_role("heading", name="Anomalies by type").wait_for()
        await page.get_by_role("link", name="Last 7 days").click()
        await page.get_by_role("heading", name="Anomalies per day").wait_for()
        days = await page.locator("svg.chart").first.locator("rect").count()
        assert days == 7
        week = (await page.locator('[data-kpi="parcels"]').inner_text()).strip()
        assert 0 < int(week) <= PARCELS
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "dashboard-en-7-days.png"), full_page=True)

        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Export CSV").click()
        download = await download_info.value
        saved = await download.path()
        text = await asyncio.to_thread(saved.read_text)
        assert text.splitlines()[1] == "section,dimension,key,value"
        assert f"headline,,parcels,{week}" in text  # the CSV of the period shown
    finally:
        await context.close()
