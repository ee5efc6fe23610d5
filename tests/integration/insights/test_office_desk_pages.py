"""The level-2 desk's pages and API on real PostgreSQL, cases opened by the real projection
step: the queue (filters, oldest first, time left), the case page (transcript, slot,
timeline), assign / status / note / answer with CSRF and roles (a viewer reads only), an
audit row per action, what goes to the outbox (one answer per answer, one survey per
case), and the same actions through the API with a `backoffice` key (422 naming the
field, the key's id in the audit, never the key)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from relais_contracts import ids
from relais_contracts.topics import conversations, desk_replies
from relais_insights.domain.office import Role
from relais_insights.service import desk as desk_service
from tests.conftest import Infrastructure
from tests.integration.insights.office_support import OfficeWorld, csrf_of, office_world, sign_in
from tests.integration.insights.support import _example, _with
from tests.integration.insights.test_office_orders_pages import START, add_parcel, office_key

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(infrastructure: Infrastructure, tmp_path: Path) -> AsyncIterator[OfficeWorld]:
    async with office_world(infrastructure, tmp_path) as made:
        made.clock.set(START + timedelta(days=1))
        yield made


async def open_callback(world: OfficeWorld, merchant_id: str, n: int) -> UUID:
    """The callback of parcel P<n> (order #20<n>), asked for one day after START."""
    await add_parcel(world, merchant_id, n, anomaly=True)
    shipment = f"P{n:03d}"
    anomaly_id = ids.anomaly_id(merchant_id, shipment, "failed_attempt")
    callback_id = ids.callback_id(ids.conversation_id(merchant_id, anomaly_id))
    example = _example(conversations.TOPIC, "CallbackRequested-fr.json")
    asked = START + timedelta(hours=20 + n)
    slot = example.slot.model_copy(
        update={"start": asked + timedelta(hours=6), "end": asked + timedelta(hours=8)}
    )
    callback = _with(
        example,
        merchant_id,
        f"{shipment}-callback",
        asked,
        shipment_id=shipment,
        correlation_id=shipment,
        order_id=f"O{n:03d}",
        anomaly_id=anomaly_id,
        callback_id=callback_id,
        slot=slot,
    )
    connection = await world.connection()
    try:
        async with connection.transaction():
            await desk_service.project_event(connection, callback)
    finally:
        await connection.close()
    return callback_id


async def rows(world: OfficeWorld, query: str, *args: Any) -> list[Any]:
    connection = await world.connection()
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def sent(world: OfficeWorld) -> list[dict[str, Any]]:
    found = await rows(
        world,
        "SELECT value FROM outbox WHERE topic = $1 ORDER BY id",
        desk_replies.TOPIC.name,
    )
    return [json.loads(bytes(row["value"])) for row in found]


@asynccontextmanager
async def signed_in(world: OfficeWorld, role: Role) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    email, password = await world.add_user(world.a.merchant_id, role)
    async with world.instances[0].client() as client:
        answer = await sign_in(client, world.a.merchant_id, email, password)
        assert answer.status_code == 303, answer.text
        yield client, await csrf_of(client, world.a.merchant_id)


async def test_the_queue_lists_cases_oldest_first_with_time_left(world: OfficeWorld) -> None:
    merchant_id = world.a.merchant_id
    first = await open_callback(world, merchant_id, 2)
    second = await open_callback(world, merchant_id, 1)
    async with signed_in(world, Role.VIEWER) as (client, _):
        page = await client.get(f"/office/{merchant_id}/desk?lang=en")
        assert page.status_code == 200, page.text
        assert page.text.index(str(second)) < page.text.index(str(first))
        assert "#20001" in page.text
        assert "Callback" in page.text
        # P001 asked at START+21h, slot 6 h later; now START+24h: 3 h left
        assert "3 h 0 min" in page.text
        french = await client.get(f"/office/{merchant_id}/desk?lang=fr&status=done")
        assert french.status_code == 200
        assert str(first) not in french.text
        case = await client.get(f"/office/{merchant_id}/desk/{first}?lang=fr")
        assert case.status_code == 200
        assert "Être rappelée par un conseiller" in case.text
        assert 'data-kind="order_placed"' in case.text
        assert "/assign" not in case.text  # a viewer has no action form
        other = await client.get(f"/office/{merchant_id}/desk/{ids.derived_id('nope')}")
        assert other.status_code == 404


async def test_an_agent_assigns_answers_notes_and_closes(world: OfficeWorld) -> None:
    merchant_id = world.a.merchant_id
    case_id = await open_callback(world, merchant_id, 3)
    base = f"/office/{merchant_id}/desk/{case_id}"
    async with signed_in(world, Role.AGENT) as (client, csrf):
        forged = await client.post(f"{base}/notes", data={"text": "x", "csrf_token": "0" * 64})
        assert forged.status_code == 403
        mine = await client.post(
            f"{base}/assign", data={"csrf_token": csrf, "assignee": "", "lang": "en"}
        )
        assert mine.status_code == 303
        page = await client.get(f"{base}?lang=en")
        user_id = page.text.split('name="assignee" value="')[1].split('"')[0]
        mine = await client.post(f"{base}/assign", data={"csrf_token": csrf, "assignee": user_id})
        assert mine.status_code == 303
        assert mine.headers["location"] == base
        moving = await client.post(
            f"{base}/status", data={"csrf_token": csrf, "status": "in_progress"}
        )
        assert moving.status_code == 303
        note = await client.post(
            f"{base}/notes", data={"csrf_token": csrf, "text": "Carrier called back."}
        )
        assert note.status_code == 303
        answer = await client.post(
            f"{base}/answer",
            data={"csrf_token": csrf, "text": "Bonjour,\r\nvotre colis part demain."},
        )
        assert answer.status_code == 303
        empty = await client.post(f"{base}/answer", data={"csrf_token": csrf, "text": ""})
        assert empty.status_code == 400
        assert "text" in empty.text
        bad = await client.post(f"{base}/status", data={"csrf_token": csrf, "status": "closed"})
        assert bad.status_code == 400
        assert "status" in bad.text
        stranger = await client.post(
            f"{base}/assign", data={"csrf_token": csrf, "assignee": str(ids.derived_id("x"))}
        )
        assert stranger.status_code == 400
        for _ in range(2):  # closing twice sends one survey
            done = await client.post(f"{base}/status", data={"csrf_token": csrf, "status": "done"})
            assert done.status_code == 303
        page = await client.get(f"{base}?lang=en")
        assert 'data-status="done"' in page.text
        assert "Carrier called back." in page.text
        assert "votre colis part demain." in page.text
        queue = await client.get(f"/office/{merchant_id}/desk?status=done&assignee={user_id}")
        assert str(case_id) in queue.text
    audit = await rows(
        world,
        "SELECT action, target, user_id, details FROM office_audit"
        " WHERE merchant_id = $1 AND action LIKE 'desk.%' ORDER BY audit_id",
        merchant_id,
    )
    assert [row["action"] for row in audit] == [
        "desk.assign",
        "desk.assign",
        "desk.status",
        "desk.note",
        "desk.answer",
        "desk.status",
        "desk.status",
    ]
    assert {row["target"] for row in audit} == {str(case_id)}
    assert all(str(row["user_id"]) == user_id for row in audit)
    assert "colis" not in " ".join(str(row["details"]) for row in audit)
    replies = await sent(world)
    assert [reply["event_type"] for reply in replies] == ["AnswerCustomer", "SendSurvey"]
    assert replies[0]["text"] == "Bonjour,\nvotre colis part demain."
    assert replies[0]["agent_name"] == "Test agent"
    assert replies[0]["case_id"] == str(case_id)
    assert replies[1]["shipment_id"] == "P003"


async def test_a_viewer_cannot_act(world: OfficeWorld) -> None:
    merchant_id = world.a.merchant_id
    case_id = await open_callback(world, merchant_id, 4)
    async with signed_in(world, Role.VIEWER) as (client, csrf):
        for path, data in (
            ("assign", {"assignee": ""}),
            ("status", {"status": "done"}),
            ("notes", {"text": "x"}),
            ("answer", {"text": "x"}),
        ):
            answer = await client.post(
                f"/office/{merchant_id}/desk/{case_id}/{path}", data={"csrf_token": csrf, **data}
            )
            assert answer.status_code == 403, path
    assert await sent(world) == []
    assert not await rows(world, "SELECT 1 FROM office_audit WHERE action LIKE 'desk.%'")


async def test_the_api_acts_with_a_backoffice_key(world: OfficeWorld, tmp_path: Path) -> None:
    merchant_id = world.a.merchant_id
    key = office_key(world, tmp_path)
    case_id = await open_callback(world, merchant_id, 5)
    base = f"/v1/office/{merchant_id}/desk/{case_id}"
    async with world.instances[0].client() as client:
        client.headers["Authorization"] = f"Bearer {key}"
        email, _ = await world.add_user(merchant_id, Role.AGENT)
        agents = await rows(world, "SELECT user_id FROM office_users WHERE role = 'agent'")
        agent = str(agents[0]["user_id"])
        assigned = await client.post(f"{base}/assign", json={"assignee": agent})
        assert assigned.status_code == 200, assigned.text
        assert assigned.json()["assignee"] == agent
        noted = await client.post(f"{base}/notes", json={"text": "checked"})
        assert [n["text"] for n in noted.json()["notes"]] == ["checked"]
        answered = await client.post(f"{base}/answer", json={"text": "It ships today."})
        assert answered.status_code == 200
        merchant = world.instances[0].insights.configuration.merchants[merchant_id]
        assert answered.json()["answers"][0]["author_name"] == merchant.branding.display_name
        closed = await client.post(f"{base}/status", json={"status": "done"})
        assert closed.json()["status"] == "done"
        for path, body, field in (
            ("status", {"status": "closed"}, "status"),
            ("notes", {"text": ""}, "text"),
            ("answer", {"txt": "hello"}, "text"),
            ("assign", {"assignee": "someone"}, "assignee"),
            ("assign", {"assignee": str(ids.derived_id("x"))}, "assignee"),
            ("answer", {"text": "x", "agent_name": ""}, "agent_name"),
        ):
            refused = await client.post(f"{base}/{path}", json=body)
            assert refused.status_code == 422, (path, refused.text)
            assert refused.json()["detail"][0]["loc"][-1] == field
        missing = await client.post(
            f"/v1/office/{merchant_id}/desk/{ids.derived_id('x')}/notes", json={"text": "x"}
        )
        assert missing.status_code == 404
        foreign = await client.post(
            f"/v1/office/{world.b.merchant_id}/desk/{case_id}/notes", json={"text": "x"}
        )
        assert foreign.status_code in (401, 403, 404)
    audit = await rows(
        world,
        "SELECT action, user_id, details FROM office_audit WHERE action LIKE 'desk.%'"
        " ORDER BY audit_id",
    )
    assert [row["action"] for row in audit] == [
        "desk.assign",
        "desk.note",
        "desk.answer",
        "desk.status",
    ]
    for row in audit:
        assert row["user_id"] is None
        details = json.loads(row["details"]) if isinstance(row["details"], str) else row["details"]
        assert details["api_key"] == "office"
        assert key not in json.dumps(details)
    assert [r["event_type"] for r in await sent(world)] == ["AnswerCustomer", "SendSurvey"]
    assert email
