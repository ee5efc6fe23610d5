"""A sent message's page in the back office (issue 15, point 2), on real PostgreSQL and
SMTP, with the notifier's internal route served over a real socket.

The notifier sends the shipping confirmation (its signed tracking link and unsubscribe
token in the email); insights projects the shipment and the outcome with its real steps.
The order page links the sent message; its page shows the subject and the email in a
sandboxed iframe, without any signed link; a user of another merchant gets 404; with the
notifier unreachable the page says the copy is not available.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from html import unescape
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from relais_contracts.catalogue import Milestone
from relais_contracts.topics import notifications
from relais_contracts.topics.notifications import NotificationSent
from relais_insights.bootstrap import MIGRATIONS_DIR, configure
from relais_insights.domain.office import Role
from relais_insights.handlers.consumers import on_fact
from relais_insights.handlers.office_access import COOKIE
from relais_insights.handlers.routes import build_router
from relais_insights.service import office_orders
from relais_insights.service.application import Insights
from relais_insights.service.office_users import OfficePolicy
from relais_insights.settings import InsightsSettings
from relais_runtime.clock import ManualClock
from relais_runtime.consumer import MessageContext
from relais_runtime.db import create_pool
from relais_runtime.migrations import migrate
from tests.conftest import Infrastructure, drop_schemas, free_port
from tests.integration.insights.office_support import (
    CHEAP_HASHER,
    OfficeInstance,
    OfficeWorld,
    sign_in,
)
from tests.integration.insights.support import SESSION_SECRET, Tenant
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import (  # noqa: F401 (fixtures)
    MERCHANTS_DIR,
    Harness,
    SmtpServer,
    harness,
    serve,
    sms_provider,
    smtp,
)
from tests.integration.notifier.running import internal_routes
from tests.integration.notifier.test_shipping_confirmation import parts

pytestmark = pytest.mark.integration

MERCHANT = "velocity-sports"
OTHER = "maison-lumiere"
MORNING = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
SIGNED = re.compile(r"https?://[^\s\"'<>]+/(?:c|t|s|u)/(?P<token>[A-Za-z0-9._~-]{16,})")
IFRAME = re.compile(r"<iframe [^>]*\bsandbox\b[^>]*>", re.DOTALL)


@pytest.fixture
async def notifier_url(harness: Harness) -> AsyncIterator[str]:  # noqa: F811
    """The notifier's internal routes, served over HTTP on the harness's database."""
    async with internal_routes(harness) as url:
        yield url


@pytest.fixture
async def world(infrastructure: Infrastructure, notifier_url: str) -> AsyncIterator[OfficeWorld]:
    """The back office of both demo merchants; instance 0 reaches the notifier, instance 1
    is configured with a port nobody listens on."""
    schema = f"test_office_copy_{uuid.uuid4().hex[:8]}"
    await migrate(
        database_url=infrastructure.database_url, schema=schema, versions_dir=MIGRATIONS_DIR
    )
    settings = InsightsSettings(
        database_url=infrastructure.database_url,
        session_secrets=[SESSION_SECRET],
        merchants_dir=MERCHANTS_DIR,
    )
    clock = ManualClock(MORNING)
    configuration = replace(
        configure(settings),
        office=OfficePolicy(wall_clock=clock, hasher=CHEAP_HASHER),
        clock=clock,
        notifier_url=notifier_url,
    )
    pool = await create_pool(database_url=infrastructure.database_url, schema=schema)
    instances = []
    for url in (notifier_url, f"http://127.0.0.1:{free_port()}"):
        insights = Insights(configuration=replace(configuration, notifier_url=url), pool=pool)
        app = FastAPI()
        app.include_router(build_router(insights))
        instances.append(OfficeInstance(app=app, insights=insights))
    try:
        yield OfficeWorld(
            schema,
            infrastructure.database_url,
            clock,
            Tenant(MERCHANT, ""),
            Tenant(OTHER, ""),
            instances,
        )
    finally:
        await pool.close()
        await drop_schemas(infrastructure.database_url, [schema])


@asynccontextmanager
async def _signed_in(
    world: OfficeWorld, merchant_id: str, instance: int
) -> AsyncIterator[httpx.AsyncClient]:
    email, password = await world.add_user(merchant_id, Role.VIEWER)
    async with world.instances[instance].client() as client:
        assert (await sign_in(client, merchant_id, email, password)).status_code == 303
        yield client


async def _sent_and_projected(
    world: OfficeWorld, notifier: Harness, mailbox: SmtpServer
) -> tuple[NotificationSent, set[str], str, str]:
    """The shipping confirmation sent by the notifier and projected by insights: its
    outcome, the signed links and tokens of the email, its subject and its order number."""
    notifier.clock.set(MORNING)
    unique = uuid.uuid4().hex[:8]
    shipment_id = f"COPY-{unique}"
    email = f"office-copy-{unique}@example.com"
    state = factories.state(merchant_id=MERCHANT, shipment_id=shipment_id, email=email)
    assert await notifier.consume(state)
    assert await notifier.consume(
        factories.milestone(merchant_id=MERCHANT, shipment_id=shipment_id, which=Milestone.SHIPPED)
    )
    await notifier.dispatcher.dispatch_due()
    [message] = mailbox.recorder.to(email)
    signed: set[str] = set()
    for text in (*parts(message), str(message["List-Unsubscribe"])):
        signed |= {part for found in SIGNED.finditer(text) for part in found.group(0, "token")}
    assert len(signed) >= 4, "the email carries a signed link and an unsubscribe token"
    outcomes = await notifier.outcomes(shipment_id)
    [sent] = [outcome for outcome in outcomes if isinstance(outcome, NotificationSent)]
    pool = world.instances[0].insights.pool
    async with pool.acquire() as connection:
        async with connection.transaction():
            await office_orders.project_state(connection, state)
        for outcome in outcomes:
            async with connection.transaction():
                context = MessageContext(connection, notifications.TOPIC.name, 0, 0, 1)
                await on_fact(outcome, context)
    return sent, signed, str(message["Subject"]), state.order_number


async def test_the_message_page_shows_the_sent_email_in_a_sandbox_without_links(
    world: OfficeWorld,
    harness: Harness,  # noqa: F811 (the notifier's fixture)
    smtp: SmtpServer,  # noqa: F811
) -> None:
    sent, signed, subject, order_number = await _sent_and_projected(world, harness, smtp)
    order_path = f"/office/{MERCHANT}/orders/{quote(order_number, safe='')}"
    message_path = f"{order_path}/messages/{sent.notification_id}"
    async with _signed_in(world, MERCHANT, 0) as viewer:
        order = await viewer.get(order_path, params={"lang": "en"})
        assert order.status_code == 200, order.text[:400]
        assert f'{message_path}?lang=en">View</a>' in unescape(order.text)

        page = await viewer.get(message_path, params={"lang": "en"})
        assert page.status_code == 200, page.text[:400]
        assert subject.startswith("Votre commande ")
        assert f"Subject: <strong>{subject}</strong>" in unescape(page.text)
        [iframe] = IFRAME.findall(page.text)
        assert re.search(r"\bsandbox\s+srcdoc=", iframe), "sandbox without any allow-* token"
        assert "allow-" not in iframe
        srcdoc = unescape(iframe.split('srcdoc="', 1)[1].split('"', 1)[0])
        assert srcdoc.lstrip().lower().startswith("<!doctype html"), "the email, escaped"
        assert "<" not in iframe.split('srcdoc="', 1)[1].split('"', 1)[0], "escaped"
        assert "Camille" in srcdoc
        assert 'href="#"' in srcdoc
        assert [found for found in signed if found in page.text or found in srcdoc] == []

        french = await viewer.get(message_path, params={"lang": "fr"})
        assert "Objet" in french.text
        assert "Les liens sont désactivés" in french.text
        unknown = await viewer.get(f"{order_path}/messages/{uuid.uuid4()}")
        assert unknown.status_code == 404

    async with _signed_in(world, OTHER, 0) as intruder:
        # the session cookie is scoped to /office/maison-lumiere: sent by hand elsewhere
        session = {"Cookie": f"{COOKIE}={intruder.cookies[COOKIE]}"}
        for path in (message_path, f"/office/{OTHER}/orders/{message_path.split('/orders/')[1]}"):
            answer = await intruder.get(path, headers=session)
            assert answer.status_code == 404, path
            assert "Votre commande" not in answer.text

    async with _signed_in(world, MERCHANT, 1) as cut_off:
        page = await cut_off.get(message_path, params={"lang": "en"})
        assert page.status_code == 200
        assert "Copy not available" in page.text
        assert "<iframe" not in page.text
