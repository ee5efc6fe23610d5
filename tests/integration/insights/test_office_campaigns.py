"""Campaigns from the back office to the customers' mailboxes: insights (pages, outbox,
progress) and the notifier (rules, sending) on real PostgreSQL, Kafka and SMTP.

The insights outbox's commands go through a Kafka topic of this run to the notifier's
consumer handler; the notifier's outcomes are projected by the insights consumer handler
(the relays are the runtime's, tested on their own).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from relais_contracts.topics import notification_commands, notifications
from relais_insights.bootstrap import MIGRATIONS_DIR, configure
from relais_insights.domain.office import Role
from relais_insights.handlers.consumers import on_fact
from relais_insights.handlers.routes import build_router
from relais_insights.service import office_orders
from relais_insights.service.application import Insights
from relais_insights.service.office_users import OfficePolicy
from relais_insights.settings import InsightsSettings
from relais_notifier.service.unsubscribing import Opt, opt_out
from relais_runtime.clock import ManualClock
from relais_runtime.consumer import MessageContext
from relais_runtime.db import create_pool
from relais_runtime.migrations import migrate
from tests.conftest import Infrastructure, drop_schemas
from tests.integration.insights.office_support import (
    CHEAP_HASHER,
    CSRF,
    OfficeInstance,
    OfficeWorld,
    office_world,
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

MERCHANT = "velocity-sports"
MORNING = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


@pytest.fixture
async def preview_url(harness: Harness) -> AsyncIterator[str]:  # noqa: F811
    """The notifier's internal preview route, served over HTTP on the harness's database."""
    async with internal_routes(harness) as url:
        yield url


@pytest.fixture
async def world(infrastructure: Infrastructure, preview_url: str) -> AsyncIterator[OfficeWorld]:
    """The back office of velocity-sports (the notifier harness's merchant)."""
    schema = f"test_office_campaigns_{uuid.uuid4().hex[:8]}"
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
        notifier_url=preview_url,
    )
    pool = await create_pool(database_url=infrastructure.database_url, schema=schema)
    insights = Insights(configuration=configuration, pool=pool)
    app = FastAPI()
    app.include_router(build_router(insights))
    tenant = Tenant(MERCHANT, "")
    try:
        yield OfficeWorld(
            schema,
            infrastructure.database_url,
            clock,
            tenant,
            tenant,
            [OfficeInstance(app=app, insights=insights)],
        )
    finally:
        await pool.close()
        await drop_schemas(infrastructure.database_url, [schema])


async def _through_kafka(
    infrastructure: Infrastructure, new_topic: Callable[[str], Awaitable[str]], values: list[bytes]
) -> list[bytes]:
    """The commands, produced to and read back from a topic of this run."""
    topic = await new_topic(f"test-campaigns-{uuid.uuid4().hex[:8]}")
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=infrastructure.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        read: list[bytes] = []
        while len(read) < len(values):
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, "the commands never came back from Kafka"
            read += [record.value for records in batch.values() for record in records]
        return read
    finally:
        await consumer.stop()


async def _signed_in_client(world: OfficeWorld, role: Role) -> tuple[httpx.AsyncClient, str]:
    email, password = await world.add_user(MERCHANT, role)
    client = world.instances[0].client()
    assert (await sign_in(client, MERCHANT, email, password)).status_code == 303
    page = await client.get(f"/office/{MERCHANT}/orders")
    found = CSRF.search(page.text)
    assert found
    return client, found.group(1)


async def test_a_campaign_over_three_shipments_one_opted_out_sends_two_and_counts_one(
    world: OfficeWorld,
    harness: Harness,  # noqa: F811 (the notifier's fixture)
    smtp: SmtpServer,  # noqa: F811
    infrastructure: Infrastructure,
    new_topic: Callable[[str], Awaitable[str]],
    preview_url: str,
) -> None:
    harness.clock.set(MORNING)
    tag = uuid.uuid4().hex[:8]
    people = [(f"C-{tag}-{n}", f"campaign-office-{tag}-{n}@example.com") for n in range(3)]
    insights = world.instances[0].insights
    for shipment_id, email in people:
        state = factories.state(merchant_id=MERCHANT, shipment_id=shipment_id, email=email)
        assert await harness.consume(state)
        async with insights.pool.acquire() as connection, connection.transaction():
            await office_orders.project_state(connection, state)
    opted_out = people[2][1]
    address_hash = harness.links.hashes.address_hash(merchant_id=MERCHANT, address=opted_out)
    await opt_out(
        harness.pool,
        Opt(merchant_id=MERCHANT, channel="email", address_hash=address_hash),
        at=MORNING,
    )
    viewer, viewer_csrf = await _signed_in_client(world, Role.VIEWER)
    client, csrf = await _signed_in_client(world, Role.AGENT)
    form: dict[str, str | list[str]] = {
        "csrf_token": csrf,
        "shipment_id": [shipment_id for shipment_id, _ in people],
        "name": "Carrier strike",
        "content": "broadcast",
        "subject_fr": "Grève : votre colis aura du retard",
        "body_fr": "Bonjour,\nUne grève touche notre transporteur.",
        "subject_en": "Strike: your parcel will be late",
        "body_en": "Hello,\nA strike hits our carrier.",
    }

    new = await client.get(
        f"/office/{MERCHANT}/campaigns/new", params={"shipment_id": [s for s, _ in people]}
    )
    assert new.status_code == 200
    assert 'data-count="3"' in new.text
    preview = await client.post(f"/office/{MERCHANT}/campaigns/preview", data=form)
    assert preview.status_code == 200, preview.text[:400]
    assert "Grève : votre colis aura du retard" in preview.text
    assert 'class="rendered"' in preview.text, "rendered by the notifier"
    assert "Camille" in preview.text, "in the customer's name and language"
    assert "#preview" in preview.text, "with a placeholder, never a signed customer link"
    async with httpx.AsyncClient() as direct:
        nobody = await direct.post(
            f"{preview_url}/internal/preview",
            json={
                "merchant_id": MERCHANT,
                "shipment_id": "nobody",
                "content": {
                    "kind": "broadcast",
                    "texts": [{"locale": "en", "subject": "s", "body": "b"}],
                },
            },
        )
    assert nobody.status_code == 404
    refused = await viewer.post(f"/office/{MERCHANT}/campaigns", data={"csrf_token": viewer_csrf})
    assert refused.status_code == 403
    no_name = await client.post(f"/office/{MERCHANT}/campaigns", data={**form, "name": ""})
    assert no_name.status_code == 400
    assert "name" in no_name.text
    assert await _commands(world) == []

    sent = await client.post(f"/office/{MERCHANT}/campaigns", data=form)
    assert sent.status_code == 303, sent.text[:400]
    campaign_url = sent.headers["location"].split("?")[0]
    campaign_id = uuid.UUID(campaign_url.rsplit("/", 1)[1])

    commands = await _through_kafka(infrastructure, new_topic, await _commands(world))
    assert len(commands) == 3
    for value in commands:
        assert await harness.consume(notification_commands.TOPIC.decode(value))
    await harness.dispatcher.dispatch_due()

    assert len(smtp.recorder.to(people[0][1])) == 1
    assert len(smtp.recorder.to(people[1][1])) == 1
    assert smtp.recorder.to(opted_out) == []
    outcomes = [o for s, _ in people for o in await harness.outcomes(s)]
    async with insights.pool.acquire() as connection:
        for outcome in outcomes:
            async with connection.transaction():
                context = MessageContext(connection, notifications.TOPIC.name, 0, 0, 1)
                await on_fact(outcome, context)

    page = await client.get(campaign_url)
    assert 'data-count="requested">3<' in page.text
    assert 'data-count="sent">2<' in page.text
    assert 'data-count="suppressed">1<' in page.text
    assert "suppressed:unsubscribed" in page.text
    listing = await client.get(f"/office/{MERCHANT}/campaigns")
    assert str(campaign_id) in listing.text
    async with insights.pool.acquire() as connection:
        audited = await connection.fetchval(
            "SELECT count(*) FROM office_audit WHERE action = 'campaign.send' AND target = $1",
            str(campaign_id),
        )
    assert audited == 1

    [first] = [o for o in outcomes if o.shipment_id == people[0][0]]
    resend = f"/office/{MERCHANT}/messages/{first.notification_id}/resend"
    form_resend = {"csrf_token": csrf, "shipment_id": people[0][0], "order_number": "O-1"}
    unknown = await client.post(resend, data={**form_resend, "shipment_id": "not-ours"})
    assert unknown.status_code == 404
    viewed = await viewer.post(resend, data={**form_resend, "csrf_token": viewer_csrf})
    assert viewed.status_code == 403
    resent = await client.post(resend, data=form_resend)
    assert resent.status_code == 303
    [command] = (await _commands(world))[3:]
    assert await harness.consume(notification_commands.TOPIC.decode(command))
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(people[0][1])) == 2


async def _commands(world: OfficeWorld) -> list[bytes]:
    async with world.instances[0].insights.pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT value FROM outbox WHERE topic = $1 ORDER BY id",
            notification_commands.TOPIC.name,
        )
    return [bytes(row["value"]) for row in rows]


async def test_the_api_sends_a_campaign_and_refuses_a_bad_field_naming_it(
    infrastructure: Infrastructure, tmp_path: Path
) -> None:
    key = "rk_test_" + uuid.uuid4().hex
    async with office_world(infrastructure, tmp_path, scoped_keys={key: ["backoffice"]}) as w:
        merchant = w.a.merchant_id
        client = w.instances[0].client()
        headers = {"Authorization": f"Bearer {key}"}
        bad = await client.post(
            f"/v1/office/{merchant}/campaigns",
            json={
                "name": "x",
                "selection": {"filters": {"status": "teleported"}},
                "content": {"kind": "anomaly_scenario"},
            },
            headers=headers,
        )
        assert bad.status_code == 422
        assert "selection" in str(bad.json()["detail"][0]["loc"])
        empty = await client.post(
            f"/v1/office/{merchant}/campaigns",
            json={"name": "x", "selection": {}, "content": {"kind": "broadcast", "texts": []}},
            headers=headers,
        )
        assert empty.status_code == 422
        assert await _commands(w) == []
        made = await client.post(
            f"/v1/office/{merchant}/campaigns",
            json={
                "name": "Nobody yet",
                "selection": {"filters": {"anomaly": "delivery_late"}},
                "content": {"kind": "anomaly_scenario"},
            },
            headers=headers,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["requested"] == 0
        got = await client.get(
            f"/v1/office/{merchant}/campaigns/{body['campaign_id']}", headers=headers
        )
        assert got.status_code == 200
        assert got.json()["sent"] == 0
        other = await client.get(
            f"/v1/office/{w.b.merchant_id}/campaigns/{body['campaign_id']}", headers=headers
        )
        assert other.status_code == 404
