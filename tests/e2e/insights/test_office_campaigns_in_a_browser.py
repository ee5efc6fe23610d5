"""A campaign from the back office in a real headless Chromium, on the insights service
fed through real Kafka: sign in as an agent, filter the orders, start a campaign from the
filter, write a broadcast, preview it, send it, and watch its progress move as the
notifier's outcomes (carrying the campaign id) arrive (screenshots under artifacts/).

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
from playwright.async_api import Browser

from relais_contracts.envelope import Event
from relais_contracts.topics import notification_commands, notifications
from relais_contracts.topics.notification_commands import CampaignMessageRequested
from relais_contracts.topics.notifications import (
    NotificationSent,
    NotificationSuppressed,
    SuppressionReason,
)
from relais_insights.domain.office import Role
from relais_insights.service import office_users
from relais_runtime.kafka import publish_events
from tests.conftest import REPO_ROOT, Infrastructure
from tests.e2e.insights.test_office_orders_in_a_browser import CHEAP_HASHER, numbered
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
from tests.integration.insights.support import (
    test_topic as own_topic,
)

pytestmark = pytest.mark.integration

SHOTS = Path(REPO_ROOT) / "artifacts" / "screenshots" / "insights"
PARCELS = 6
SENT_EXAMPLE = notifications.TOPIC.examples_dir() / "NotificationSent-campaign-broadcast.json"


async def _publish(infrastructure: Infrastructure, topic: str, events: list[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap)
    await producer.start()
    try:
        await publish_events(producer, topic=topic, events=events)
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningInsights, str, str, str, str]]:
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
            yield running, merchant_id, "agent@example.test", password, unique
    finally:
        await delete_topics(infrastructure, topics)


async def _commands(infrastructure: Infrastructure, schema: str) -> list[CampaignMessageRequested]:
    connection = await asyncpg.connect(
        infrastructure.database_url, server_settings={"search_path": schema}
    )
    try:
        rows = await connection.fetch(
            "SELECT value FROM outbox WHERE topic = $1 ORDER BY id",
            notification_commands.TOPIC.name,
        )
    finally:
        await connection.close()
    found = [notification_commands.TOPIC.decode(bytes(row["value"])) for row in rows]
    return [event for event in found if isinstance(event, CampaignMessageRequested)]


def _outcomes(commands: list[CampaignMessageRequested]) -> list[Event]:
    """What the notifier would publish: two sent, one opted out (the rest still waiting)."""
    sent_example = notifications.TOPIC.decode(SENT_EXAMPLE.read_bytes())
    assert isinstance(sent_example, NotificationSent)
    made: list[Event] = []
    for n, command in enumerate(commands[:3]):
        trigger = sent_example.trigger.model_copy(update={"campaign_id": command.campaign_id})
        common = {
            "event_id": uuid.uuid4(),
            "merchant_id": command.merchant_id,
            "shipment_id": command.shipment_id,
            "correlation_id": command.shipment_id,
            "idempotency_key": f"{command.event_id}:email:campaign",
            "trigger": trigger,
            "occurred_at": datetime.now(UTC),
        }
        if n < 2:
            made.append(sent_example.model_copy(update=common))
        else:
            made.append(
                NotificationSuppressed(
                    **{
                        **common,
                        "notification_id": uuid.uuid4(),
                        "channel": sent_example.channel,
                        "reason": SuppressionReason.UNSUBSCRIBED,
                    }
                )
            )
    return made


async def test_an_agent_sends_a_campaign_to_filtered_shipments_and_sees_its_progress(
    office: tuple[RunningInsights, str, str, str, str],
    browser: Browser,
    infrastructure: Infrastructure,
) -> None:
    running, merchant_id, email, password, unique = office
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(f"{running.base_url}/office/{merchant_id}/orders?lang=en")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="Orders").wait_for()
        await page.get_by_label("Status").select_option("delivered")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**status=delivered**")
        selected = await page.locator("table.orders tbody tr").count()
        assert 3 <= selected <= PARCELS

        await page.get_by_role("link", name="Send a message to these shipments").click()
        await page.get_by_role("heading", name="New campaign").wait_for()
        assert await page.locator("p.selection").get_attribute("data-count") == str(selected)
        await page.get_by_label("Name").fill("Carrier strike")
        await page.get_by_label("A message I write (broadcast)").check()
        await page.get_by_label("Subject (en)").fill("Strike: your parcel will be late")
        await page.get_by_label("Text (en)").fill("Hello,\nA strike hits our carrier.")
        await page.get_by_role("button", name="Preview").click()
        await page.get_by_role("heading", name="Preview").wait_for()
        assert await page.locator(".preview .subject").inner_text() == (
            "Strike: your parcel will be late"
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "office-campaign-preview.png"), full_page=True)

        await page.get_by_role("button", name=f"Send to {selected} shipment(s)").click()
        await page.get_by_role("heading", name="Carrier strike").wait_for()
        progress = page.locator("dl.progress")
        assert await progress.locator('[data-count="requested"]').inner_text() == str(selected)
        assert await progress.locator('[data-count="waiting"]').inner_text() == str(selected)

        commands = await _commands(infrastructure, running.schema)
        assert len(commands) == selected
        outcomes_topic = own_topic(notifications.TOPIC, unique).name
        await _publish(infrastructure, outcomes_topic, _outcomes(commands))

        async def counted() -> bool:
            await page.reload()
            sent = await progress.locator('[data-count="sent"]').inner_text()
            return sent == "2"

        assert await eventually(counted, timeout_s=30)
        assert await progress.locator('[data-count="suppressed"]').inner_text() == "1"
        assert await progress.locator('[data-count="waiting"]').inner_text() == str(selected - 3)
        await page.screenshot(path=str(SHOTS / "office-campaign-progress.png"), full_page=True)
        await page.get_by_role("link", name="All campaigns").click()
        await page.locator("table.campaigns tbody tr").first.wait_for()
    finally:
        await context.close()
