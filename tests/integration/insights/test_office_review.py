"""The back office's review queue fed by the real insights consumers on real Kafka and
PostgreSQL: NotificationHeldForReview events become the queue of /office/<m>/review and
GET /v1/office/<m>/review, oldest first, the one waiting longer than the merchant's
limit (2h) highlighted and counted by the navigation's badge; an outcome of a held
message closes it; an agent's Send and Dismiss (CSRF-checked) write ReviewDecided to the
insights outbox with an audit row, a viewer is refused (403), a form without the CSRF
token is refused (403), a decision on a review no longer held is 409 and publishes
nothing; the API decides with a `backoffice` key only."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher

from relais_contracts import ids
from relais_contracts.envelope import Event
from relais_contracts.topics import notification_commands, notifications, shipment_state
from relais_insights.domain.office import Role
from relais_insights.service import office_users
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually
from tests.integration.insights.support import (
    RunningInsights,
    Tenant,
    _example,
    _with,
    now_utc,
    running_insights,
    to_test_topics,
    write_merchants,
)
from tests.integration.insights.test_office_orders_projection import (
    publish,
    with_backoffice_key,
)

pytestmark = pytest.mark.integration

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
COMMANDS = notification_commands.TOPIC.name


@pytest.fixture(scope="module", name="unique")
def module_unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory, unique: str) -> tuple[Path, Tenant, Tenant]:
    """Merchant A with a `backoffice` key, and its plain key (merchant B exists too)."""
    directory = tmp_path_factory.mktemp("merchants")
    a, _ = write_merchants(directory, unique)
    return directory, with_backoffice_key(directory, a), a


@pytest.fixture(scope="module")
async def insights(
    infrastructure: Infrastructure, tenants: tuple[Path, Tenant, Tenant], unique: str
) -> AsyncIterator[RunningInsights]:
    async with running_insights(infrastructure, unique=unique, merchants_dir=tenants[0]) as running:
        yield running


def held(merchant_id: str, shipment: str, *, at: datetime, name: str = "lost") -> Any:
    example = _example(notifications.TOPIC, "NotificationHeldForReview-lost.json")
    anomaly_id = ids.anomaly_id(merchant_id, shipment, name)
    trigger = example.trigger.model_copy(update={"ref_id": anomaly_id, "name": name})
    return _with(
        example,
        merchant_id,
        f"{shipment}-held",
        at,
        shipment_id=shipment,
        correlation_id=shipment,
        review_id=ids.review_id(anomaly_id, "initial"),
        trigger=trigger,
        template=name,
    )


def state(merchant_id: str, shipment: str, number: str, *, at: datetime) -> Any:
    example = _example(shipment_state.TOPIC, "ShipmentStateChanged-colissimo-out-for-delivery.json")
    return _with(
        example,
        merchant_id,
        f"{shipment}-state",
        at,
        shipment_id=shipment,
        correlation_id=shipment,
        order_number=number,
        order_id=f"o-{shipment}",
        placed_at=at,
        version=1,
    )


def sent_for(review: Any) -> Any:
    """The notifier's NotificationSent of a held message (its key names the purpose)."""
    example = _example(notifications.TOPIC, "NotificationSent-email-fr.json")
    return _with(
        example,
        review.merchant_id,
        f"{review.shipment_id}-sent",
        review.occurred_at + timedelta(minutes=1),
        shipment_id=review.shipment_id,
        correlation_id=review.shipment_id,
        trigger=review.trigger,
        idempotency_key=ids.notification_key(review.trigger.ref_id, "email", "initial"),
    )


async def query(insights: RunningInsights, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(
        insights.settings.database_url, server_settings={"search_path": insights.schema}
    )
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def add_user(insights: RunningInsights, merchant_id: str, role: Role) -> tuple[str, str]:
    email, password = f"{role}-{uuid.uuid4().hex[:6]}@example.test", secrets.token_urlsafe(12)
    connection = await asyncpg.connect(
        insights.settings.database_url, server_settings={"search_path": insights.schema}
    )
    try:
        await office_users.add_user(
            connection,
            CHEAP_HASHER,
            merchant_id=merchant_id,
            email=email,
            display_name=f"Test {role}",
            role=role,
            language="en",
            password=password,
            at=datetime.now(UTC),
        )
    finally:
        await connection.close()
    return email, password


@pytest.fixture(scope="module")
async def queue(
    infrastructure: Infrastructure,
    insights: RunningInsights,
    tenants: tuple[Path, Tenant, Tenant],
    unique: str,
) -> dict[str, Any]:
    """Four held messages of merchant A (3h, 1h, 30 min and 20 min ago); the last one was
    sent meanwhile (its NotificationSent closes it)."""
    merchant_id = tenants[1].merchant_id
    now = now_utc().replace(microsecond=0)
    waits = {"old": timedelta(hours=3), "mid": timedelta(hours=1), "api": timedelta(minutes=30)}
    waits["gone"] = timedelta(minutes=20)
    reviews = {
        name: held(merchant_id, f"R-{name}-{unique}", at=now - wait) for name, wait in waits.items()
    }
    events: list[tuple[str, Event]] = [
        (shipment_state.TOPIC.name, state(merchant_id, r.shipment_id, f"#{name}", at=now))
        for name, r in reviews.items()
    ]
    events += [(notifications.TOPIC.name, r) for r in reviews.values()]
    events.append((notifications.TOPIC.name, sent_for(reviews["gone"])))
    await publish(infrastructure, to_test_topics(events, unique))

    async def projected() -> bool:
        rows = await query(
            insights,
            "SELECT status FROM office_reviews WHERE merchant_id = $1 ORDER BY held_at",
            merchant_id,
        )
        return [row["status"] for row in rows] == ["held", "held", "held", "sent"]

    assert await eventually(projected, timeout_s=60)
    return reviews


@asynccontextmanager
async def signed_in(
    insights: RunningInsights, merchant_id: str, role: Role
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client signed in as a new user of `role`, and its CSRF token."""
    email, password = await add_user(insights, merchant_id, role)
    async with httpx.AsyncClient(base_url=insights.base_url) as client:
        answer = await client.post(
            f"/office/{merchant_id}/login", data={"email": email, "password": password}
        )
        assert answer.status_code == 303, answer.text
        page = await client.get(f"/office/{merchant_id}/dashboard")
        found = CSRF.search(page.text)
        assert found, page.text[:300]
        yield client, found.group(1)


async def commands(insights: RunningInsights, review_id: UUID) -> list[dict[str, Any]]:
    rows = await query(insights, "SELECT value FROM outbox WHERE topic = $1 ORDER BY id", COMMANDS)
    decoded = [json.loads(bytes(row["value"])) for row in rows]
    return [c for c in decoded if c["review_id"] == str(review_id)]


async def audit(insights: RunningInsights, merchant_id: str) -> list[asyncpg.Record]:
    return await query(
        insights,
        "SELECT user_id, action, target, details FROM office_audit"
        " WHERE merchant_id = $1 AND action LIKE 'review.%' ORDER BY audit_id",
        merchant_id,
    )


async def test_the_page_lists_the_queue_oldest_first_and_highlights_the_late_one(
    insights: RunningInsights, tenants: tuple[Path, Tenant, Tenant], queue: dict[str, Any]
) -> None:
    merchant_id = tenants[1].merchant_id
    async with signed_in(insights, merchant_id, Role.VIEWER) as (client, _):
        page = await client.get(f"/office/{merchant_id}/review?lang=en")
    assert page.status_code == 200, page.text
    shown = re.findall(r'<tr data-review="([0-9a-f-]+)"( class="over-limit")?', page.text)
    assert shown == [
        (str(queue["old"].review_id), ' class="over-limit"'),
        (str(queue["mid"].review_id), ""),
        (str(queue["api"].review_id), ""),
    ]
    assert "#old" in page.text
    assert "<td>Lost</td>" in page.text
    assert "1 waiting longer than the limit." in page.text
    assert re.search(r'<span class="badge"[^>]*>1</span>', page.text), "no badge of 1"
    assert "/send" not in page.text  # a viewer gets no decision forms


async def test_an_agent_sends_and_dismisses_through_the_page(
    insights: RunningInsights, tenants: tuple[Path, Tenant, Tenant], queue: dict[str, Any]
) -> None:
    merchant_id = tenants[1].merchant_id
    base = f"/office/{merchant_id}/review"
    old, mid = queue["old"].review_id, queue["mid"].review_id
    async with signed_in(insights, merchant_id, Role.VIEWER) as (viewer, viewer_token):
        refused = await viewer.post(f"{base}/{old}/send", data={"csrf_token": viewer_token})
    assert refused.status_code == 403
    async with signed_in(insights, merchant_id, Role.AGENT) as (client, token):
        forged = await client.post(f"{base}/{old}/send", data={"lang": "en"})
        assert forged.status_code == 403
        assert await commands(insights, old) == []

        sent = await client.post(f"{base}/{old}/send", data={"csrf_token": token, "lang": "en"})
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"].endswith("/review?done=send&lang=en")
        dismissed = await client.post(f"{base}/{mid}/dismiss", data={"csrf_token": token})
        assert dismissed.status_code == 303
        page = await client.get(f"{base}?lang=en")
        assert str(old) not in page.text
        assert str(mid) not in page.text
        assert not re.search(r'<span class="badge"', page.text)

        again = await client.post(f"{base}/{old}/dismiss", data={"csrf_token": token})
        assert again.status_code == 409
        assert "no longer waiting" in again.text
        unknown = await client.post(f"{base}/{uuid.uuid4()}/send", data={"csrf_token": token})
        assert unknown.status_code == 409

    [send_command] = await commands(insights, old)
    [dismiss_command] = await commands(insights, mid)
    assert send_command["event_type"] == "ReviewDecided"
    assert (send_command["decision"], dismiss_command["decision"]) == ("send", "dismiss")
    assert send_command["via"] == "office"
    assert send_command["shipment_id"] == queue["old"].shipment_id
    assert send_command["decided_by"] is not None
    assert "@" not in json.dumps(send_command)
    entries = await audit(insights, merchant_id)
    assert [(e["action"], e["target"]) for e in entries][:2] == [
        ("review.send", str(old)),
        ("review.dismiss", str(mid)),
    ]
    assert str(entries[0]["user_id"]) == send_command["decided_by"]
    rows = await query(
        insights,
        "SELECT review_id, status, decided_by FROM office_reviews WHERE review_id = ANY($1)",
        [old, mid],
    )
    assert {row["review_id"]: row["status"] for row in rows} == {old: "sent", mid: "dismissed"}


async def test_the_api_reads_and_decides_with_a_backoffice_key(
    insights: RunningInsights, tenants: tuple[Path, Tenant, Tenant], queue: dict[str, Any]
) -> None:
    merchant_id, office_key, plain_key = (
        tenants[1].merchant_id,
        tenants[1].key,
        tenants[2].key,
    )
    url = f"/v1/office/{merchant_id}/review"
    target = queue["api"].review_id
    async with httpx.AsyncClient(base_url=insights.base_url) as client:
        assert (await client.get(url)).status_code == 401
        no_scope = await client.get(url, headers={"Authorization": f"Bearer {plain_key}"})
        assert no_scope.status_code == 403
        assert "backoffice" in no_scope.text
        client.headers["Authorization"] = f"Bearer {office_key}"
        listed = await client.get(url)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert body["review_alert_after_s"] == 7200
        api_item = next(r for r in body["reviews"] if r["review_id"] == str(target))
        assert api_item["order_number"] == "#api"
        assert api_item["anomaly_type"] == "lost"
        assert api_item["over_limit"] is False
        assert 1700 < api_item["waited_s"] < 3600

        decided = await client.post(f"{url}/{target}/dismiss")
        assert decided.status_code == 200, decided.text
        assert decided.json()["decision"] == "dismiss"
        again = await client.post(f"{url}/{target}/send")
        assert again.status_code == 409
        unknown = await client.post(f"{url}/{uuid.uuid4()}/send")
        assert unknown.status_code == 404
        bad = await client.post(f"{url}/not-a-uuid/send")
        assert bad.status_code == 422
        assert "review_id" in bad.text
        assert str(target) not in (await client.get(url)).text
    [command] = await commands(insights, target)
    assert (command["decision"], command["via"], command["decided_by"]) == ("dismiss", "api", None)
    entries = await audit(insights, merchant_id)
    assert ("review.dismiss", str(target)) in [(e["action"], e["target"]) for e in entries]


async def test_another_merchants_key_and_user_see_nothing(
    insights: RunningInsights, tenants: tuple[Path, Tenant, Tenant], queue: dict[str, Any]
) -> None:
    a = tenants[1]
    b_id = a.merchant_id.replace("ins-a-", "ins-b-")
    async with signed_in(insights, b_id, Role.ADMIN) as (client, token):
        page = await client.get(f"/office/{a.merchant_id}/review")
        assert page.status_code in (303, 404)  # the session cookie is the merchant's path's
        assert str(queue["api"].review_id) not in page.text
        post = await client.post(
            f"/office/{a.merchant_id}/review/{queue['mid'].review_id}/send",
            data={"csrf_token": token},
        )
        assert post.status_code in (303, 404)
        own = await client.get(f"/office/{b_id}/review?lang=en")
        assert own.status_code == 200
        assert "Nothing waits for review." in own.text
    assert [c["decision"] for c in await commands(insights, queue["mid"].review_id)] == ["dismiss"]
