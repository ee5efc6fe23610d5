"""The back office's orders in a real headless Chromium, on the insights service fed through
real Kafka: sign in as a merchant user, filter the list by an open anomaly type, search by
order number, open the order and read its timeline (screenshots under artifacts/).

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from argon2 import PasswordHasher
from playwright.async_api import Browser

from relais_contracts.envelope import Event
from relais_contracts.topics import shipment_state
from relais_insights.domain.office import Role
from relais_insights.service import office_users
from relais_runtime.kafka import publish_events
from tests.conftest import REPO_ROOT, Infrastructure
from tests.integration.conftest import eventually
from tests.integration.insights.support import (
    RunningInsights,
    busy_parcel,
    create_topics,
    delete_topics,
    now_utc,
    running_insights,
    to_test_topics,
    write_merchants,
)

pytestmark = pytest.mark.integration

SHOTS = Path(REPO_ROOT) / "artifacts" / "screenshots" / "insights"
PARCELS = 12
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def numbered(events: list[tuple[str, Event]], index: int) -> list[tuple[str, Event]]:
    """The parcel's state carries its own order number (#E<index>) and opens its timeline."""
    return [
        (
            topic,
            event.model_copy(
                update={
                    "order_number": f"#E{index:03d}",
                    "cause": shipment_state.StateChangeCause.ORDER_PLACED,
                }
            )
            if isinstance(event, shipment_state.ShipmentStateChanged)
            else event,
        )
        for topic, event in events
    ]


@pytest.fixture(scope="module")
async def office(
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
            events: list[tuple[str, Event]] = []
            for index in range(PARCELS):
                events += numbered(busy_parcel(merchant_id, index, now=now), index)
            producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap)
            await producer.start()
            try:
                for topic, event in to_test_topics(events, unique):
                    await publish_events(producer, topic=topic, events=[event])
            finally:
                await producer.stop()
            connection = await asyncpg.connect(
                infrastructure.database_url, server_settings={"search_path": running.schema}
            )
            try:

                async def projected() -> bool:
                    count = await connection.fetchval(
                        "SELECT count(*) FROM office_shipments WHERE merchant_id = $1"
                        " AND last_event_at > ordered_at",
                        merchant_id,
                    )
                    return bool(count == PARCELS)

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
            yield running, merchant_id, "agent@example.test", password
    finally:
        await delete_topics(infrastructure, topics)


async def test_an_agent_signs_in_filters_searches_and_opens_a_timeline(
    office: tuple[RunningInsights, str, str, str], browser: Browser
) -> None:
    running, merchant_id, email, password = office
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(f"{running.base_url}/office/{merchant_id}/orders?lang=en")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="Orders").wait_for()
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
    finally:
        await context.close()
