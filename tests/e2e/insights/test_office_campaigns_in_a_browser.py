"""A campaign from the back office in a real headless Chromium, on the insights service
fed through real Kafka: sign in as an agent, filter the orders, start a campaign from the
filter, write a broadcast, preview it, send it, and watch its progress move as the
notifier's outcomes (carrying the campaign id) arrive (screenshots under artifacts/).

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from playwright.async_api import Browser

from relais_contracts.envelope import Event
from relais_contracts.topics import notification_commands, notifications
from relais_contracts.topics.notification_commands import CampaignMessageRequested
from relais_contracts.topics.notifications import (
    NotificationSent,
    NotificationSuppressed,
    SuppressionReason,
)
from tests.conftest import Infrastructure
from tests.e2e.insights.office_browser import (
    AGENT_EMAIL,
    SHOTS,
    Office,
    office_with_parcels,
    signed_in_page,
)
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

PARCELS = 6
SENT_EXAMPLE = notifications.TOPIC.examples_dir() / "NotificationSent-campaign-broadcast.json"


@pytest.fixture(scope="module")
async def agent_office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Office, str]]:
    """The running office with PARCELS projected parcels and an agent's password."""
    async with office_with_parcels(infrastructure, tmp_path_factory, PARCELS) as ready:
        yield ready


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
    agent_office: tuple[Office, str],
    browser: Browser,
    infrastructure: Infrastructure,
) -> None:
    office, password = agent_office
    async with signed_in_page(browser, office, email=AGENT_EMAIL, password=password) as page:
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

        commands = await _commands(infrastructure, office.running.schema)
        assert len(commands) == selected
        await office.publish([(notifications.TOPIC.name, event) for event in _outcomes(commands)])

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
