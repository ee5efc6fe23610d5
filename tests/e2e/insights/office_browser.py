"""What the back-office browser tests share: a running insights service on its own topics
and merchant, events published to those topics, a wait until the read model holds them,
an office user added with a known password, and a browser page signed in as that user.

Every office runs on fresh topics (deleted afterwards) and a fresh schema, so the modules
never see each other's data.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page

from relais_contracts.envelope import Event
from relais_contracts.topics import shipment_state
from relais_insights.domain.office import Role
from relais_insights.service import office_users
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
from tests.integration.insights.test_office_orders_projection import publish

SHOTS = Path(REPO_ROOT) / "artifacts" / "screenshots" / "insights"
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
AGENT_EMAIL = "agent@example.test"
SHIPMENTS_PROJECTED = (
    "SELECT count(*) FROM office_shipments WHERE merchant_id = $1 AND last_event_at > ordered_at"
)


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


def numbered_parcels(merchant_id: str, count: int, *, now: datetime) -> list[tuple[str, Event]]:
    """Parcels b0..b<count-1>, each with order number #E<index>."""
    events: list[tuple[str, Event]] = []
    for index in range(count):
        events += numbered(busy_parcel(merchant_id, index, now=now), index)
    return events


@dataclass(frozen=True)
class Office:
    infrastructure: Infrastructure
    running: RunningInsights
    merchant: Tenant
    unique: str

    @property
    def merchant_id(self) -> str:
        return self.merchant.merchant_id

    async def publish(self, events: list[tuple[str, Event]]) -> None:
        """Publishes (topic, event) pairs to this office's own test topics."""
        await publish(self.infrastructure, to_test_topics(events, self.unique))

    async def wait_for_count(self, sql: str, expected: int) -> None:
        """Fails unless `sql` (a count with the merchant id as $1) reaches `expected`
        within a minute."""
        connection = await self._connect()
        try:

            async def reached() -> bool:
                return bool(await connection.fetchval(sql, self.merchant_id) == expected)

            assert await eventually(reached, timeout_s=60)
        finally:
            await connection.close()

    async def add_user(
        self,
        *,
        email: str = AGENT_EMAIL,
        display_name: str = "Agent Smith",
        role: Role = Role.AGENT,
        hasher: PasswordHasher = CHEAP_HASHER,
    ) -> str:
        """Adds an office user speaking English and gives back its random password."""
        password = secrets.token_urlsafe(12)
        connection = await self._connect()
        try:
            await office_users.add_user(
                connection,
                hasher,
                merchant_id=self.merchant_id,
                email=email,
                display_name=display_name,
                role=role,
                language="en",
                password=password,
                at=datetime.now(UTC),
            )
        finally:
            await connection.close()
        return password

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self.running.settings.database_url,
            server_settings={"search_path": self.running.schema},
        )


@asynccontextmanager
async def running_office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Office]:
    """An insights service for one new merchant, on topics of its own."""
    unique = uuid.uuid4().hex[:8]
    directory = tmp_path_factory.mktemp("merchants")
    merchant, _ = write_merchants(directory, unique)
    topics = await create_topics(infrastructure, unique)
    try:
        async with running_insights(
            infrastructure, unique=unique, merchants_dir=directory
        ) as running:
            yield Office(infrastructure, running, merchant, unique)
    finally:
        await delete_topics(infrastructure, topics)


@asynccontextmanager
async def office_with_parcels(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory, parcels: int
) -> AsyncIterator[tuple[Office, str]]:
    """A running office once its read model holds `parcels` numbered parcels, with an
    agent (AGENT_EMAIL) and the agent's password."""
    async with running_office(infrastructure, tmp_path_factory) as office:
        await office.publish(numbered_parcels(office.merchant_id, parcels, now=now_utc()))
        await office.wait_for_count(SHIPMENTS_PROJECTED, parcels)
        yield office, await office.add_user()


@asynccontextmanager
async def signed_in_page(
    browser: Browser, office: Office, *, email: str, password: str
) -> AsyncIterator[Page]:
    """A fresh browser context whose page has signed in through the orders page and
    landed on it (the context closes afterwards)."""
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(f"{office.running.base_url}/office/{office.merchant_id}/orders?lang=en")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="Orders").wait_for()
        yield page
    finally:
        await context.close()
