"""The back office's people and access in a real headless Chromium, on the running
insights service: a wrong password is refused, an admin signs in, adds an agent (whose
one-time password is shown once), sees a form posted without the CSRF token refused
with a page saying so, signs out; the agent signs in and cannot open the users page.

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from argon2 import PasswordHasher
from playwright.async_api import Browser

from relais_insights.domain.office import Role
from relais_insights.service import office_users
from relais_runtime.clock import SystemClock
from tests.conftest import REPO_ROOT, Infrastructure
from tests.integration.insights.support import (
    RunningInsights,
    Tenant,
    create_topics,
    delete_topics,
    running_insights,
    write_merchants,
)

pytestmark = pytest.mark.integration

SHOTS = Path(REPO_ROOT) / "artifacts" / "screenshots" / "office"
ADMIN_EMAIL = "admin@shop.example"


@pytest.fixture(scope="module")
async def office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningInsights, Tenant, str]]:
    unique = uuid.uuid4().hex[:8]
    directory = tmp_path_factory.mktemp("merchants")
    merchant, _ = write_merchants(directory, unique)
    topics = await create_topics(infrastructure, unique)
    try:
        async with running_insights(
            infrastructure, unique=unique, merchants_dir=directory
        ) as running:
            password = secrets.token_urlsafe(12)
            connection = await asyncpg.connect(
                running.settings.database_url, server_settings={"search_path": running.schema}
            )
            try:
                await office_users.add_user(
                    connection,
                    PasswordHasher(),
                    merchant_id=merchant.merchant_id,
                    email=ADMIN_EMAIL,
                    display_name="Alice Admin",
                    role=Role.ADMIN,
                    language="en",
                    password=password,
                    at=SystemClock().now(),
                )
            finally:
                await connection.close()
            yield running, merchant, password
    finally:
        await delete_topics(infrastructure, topics)


async def test_sign_in_add_a_user_sign_out_and_refuse_a_forged_form(
    office: tuple[RunningInsights, Tenant, str], browser: Browser
) -> None:
    running, merchant, password = office
    base = f"{running.base_url}/office/{merchant.merchant_id}"
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = await context.new_page()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        await page.goto(f"{base}/users?lang=en")
        assert page.url.startswith(f"{base}/login")
        await page.get_by_label("Email").fill(ADMIN_EMAIL)
        await page.get_by_label("Password").fill("not-the-password")
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_text("Wrong email or password.").wait_for()

        await page.get_by_label("Email").fill(ADMIN_EMAIL.upper())
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_text("Signed in as Alice Admin (admin)").wait_for()
        cookies = await context.cookies()
        session = next(c for c in cookies if c["name"] == "relais_office")
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Lax"

        await page.get_by_role("link", name="Users").click()
        await page.get_by_role("heading", name="Users").wait_for()
        await page.get_by_label("Email").fill("Bob.Agent@shop.example")
        await page.get_by_label("Name").fill("Bob Agent")
        await page.get_by_label("Role").select_option("agent")
        await page.get_by_role("button", name="Add", exact=True).click()
        notice = await page.get_by_role("status").inner_text()
        found = re.search(r"bob\.agent@shop\.example: (\S+) ", notice)
        assert found, notice
        bob_password = found.group(1)
        assert await page.locator("tr", has_text="Bob Agent").count() == 1
        await page.screenshot(path=str(SHOTS / "users.png"), full_page=True)

        await page.goto(f"{base}/dashboard?lang=en")
        await page.evaluate(
            """(action) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = action;
                const field = document.createElement('input');
                field.name = 'email'; field.value = 'x@example.test';
                form.appendChild(field);
                document.body.appendChild(form);
                form.submit();
            }""",
            f"{base}/users",
        )
        await page.get_by_role("heading", name="This form has expired").wait_for()
        await page.screenshot(path=str(SHOTS / "csrf-refused.png"), full_page=True)
        await page.goto(f"{base}/audit?lang=en")
        await page.locator("td code", has_text="user.add").wait_for()
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_role("button", name="Sign in").wait_for()

        await page.get_by_label("Email").fill("bob.agent@shop.example")
        await page.get_by_label("Password").fill(bob_password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_text("Signed in as Bob Agent (agent)").wait_for()
        assert await page.get_by_role("link", name="Users").count() == 0
        refused = await page.goto(f"{base}/users?lang=en")
        assert refused is not None
        assert refused.status == 403
        await page.get_by_text("Your role does not allow this.").first.wait_for()

    finally:
        await context.close()
