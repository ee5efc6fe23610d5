"""The back office's people and access in a real headless Chromium, on the running
insights service: a wrong password is refused, an admin signs in, adds an agent (whose
one-time password is shown once), sees a form posted without the CSRF token refused
with a page saying so, signs out; the agent signs in and cannot open the users page.

Needs Debian's `chromium` package (Playwright's own browser download is never used).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from playwright.async_api import Browser

from relais_insights.domain.office import Role
from tests.conftest import REPO_ROOT, Infrastructure
from tests.e2e.insights.office_browser import Office, running_office

pytestmark = pytest.mark.integration

SHOTS = Path(REPO_ROOT) / "artifacts" / "screenshots" / "office"
ADMIN_EMAIL = "admin@shop.example"


@pytest.fixture(scope="module")
async def admin_office(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Office, str]]:
    """The running office with an admin (hashed with the production parameters) and
    the admin's password."""
    async with running_office(infrastructure, tmp_path_factory) as office:
        password = await office.add_user(
            email=ADMIN_EMAIL,
            display_name="Alice Admin",
            role=Role.ADMIN,
            hasher=PasswordHasher(),
        )
        yield office, password


async def test_sign_in_add_a_user_sign_out_and_refuse_a_forged_form(
    admin_office: tuple[Office, str], browser: Browser
) -> None:
    office, password = admin_office
    base = f"{office.running.base_url}/office/{office.merchant_id}"
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
