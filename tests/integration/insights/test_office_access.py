"""The back office's people and access on real PostgreSQL: sign-in, server-side sessions
(sign-out, idle and absolute expiry, revocation, disabling), login throttling shared by
two app instances, CSRF on every office form, the admin's users page and the audit log,
and the office API's key scopes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from relais_insights.domain.office import Role
from relais_insights.handlers.office_access import COOKIE, PUBLIC_OFFICE_ROUTES
from tests.conftest import Infrastructure
from tests.integration.insights.office_support import (
    OfficeWorld,
    api_routes,
    csrf_of,
    office_world,
    sign_in,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(infrastructure: Infrastructure, tmp_path: Path) -> AsyncIterator[OfficeWorld]:
    async with office_world(infrastructure, tmp_path, instances=2) as made:
        yield made


@asynccontextmanager
async def signed_in(
    world: OfficeWorld, role: Role = Role.ADMIN
) -> AsyncIterator[httpx.AsyncClient]:
    email, password = await world.add_user(world.a.merchant_id, role)
    async with world.instances[0].client() as client:
        answer = await sign_in(client, world.a.merchant_id, email, password)
        assert answer.status_code == 303, answer.text
        yield client


async def test_sign_in_sets_a_random_session_cookie_and_opens_the_office(
    world: OfficeWorld,
) -> None:
    email, password = await world.add_user(world.a.merchant_id, Role.VIEWER)
    async with world.instances[0].client() as client:
        answer = await sign_in(client, world.a.merchant_id, email.upper(), password)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/office/{world.a.merchant_id}/orders"
        cookie = answer.headers["set-cookie"]
        assert f"{COOKIE}=" in cookie
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        assert f"Path=/office/{world.a.merchant_id}" in cookie
        session_id = client.cookies[COOKIE]
        assert len(session_id) >= 40
        page = await client.get(f"/office/{world.a.merchant_id}/dashboard")
        assert page.status_code == 200
        assert "Test viewer" in page.text
    connection = await world.connection()
    try:
        stored = await connection.fetchval("SELECT session_hash FROM office_sessions")
    finally:
        await connection.close()
    assert stored == hashlib.sha256(session_id.encode()).hexdigest()


async def test_no_session_redirects_to_the_sign_in_page(world: OfficeWorld) -> None:
    async with world.instances[0].client() as client:
        answer = await client.get(f"/office/{world.a.merchant_id}/users?lang=fr")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/office/{world.a.merchant_id}/login?lang=fr"
        login = await client.get(f"/office/{world.a.merchant_id}/login?lang=fr")
        assert login.status_code == 200
        assert "Mot de passe" in login.text


async def test_unknown_email_and_wrong_password_get_the_same_answer(world: OfficeWorld) -> None:
    email, _ = await world.add_user(world.a.merchant_id)
    async with world.instances[0].client() as client:
        wrong = await sign_in(client, world.a.merchant_id, email, "not-the-password")
        unknown = await sign_in(client, world.a.merchant_id, "nobody@example.test", "x" * 12)
    assert wrong.status_code == unknown.status_code == 401
    assert COOKIE not in wrong.headers.get("set-cookie", "")
    typed = (email.lower(), email, "nobody@example.test")
    texts = [r.text for r in (wrong, unknown)]
    for value in typed:
        texts = [text.replace(value, "") for text in texts]
    assert texts[0] == texts[1]


async def test_sign_out_revokes_the_session_on_the_server(world: OfficeWorld) -> None:
    async with signed_in(world) as client:
        session_id = client.cookies[COOKIE]
        token = await csrf_of(client, world.a.merchant_id)
        out = await client.post(f"/office/{world.a.merchant_id}/logout", data={"csrf_token": token})
        assert out.status_code == 303
    async with world.instances[1].client() as replay:
        replay.cookies.set(COOKIE, session_id)
        answer = await replay.get(f"/office/{world.a.merchant_id}/dashboard")
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/login")


async def test_sessions_end_when_idle_and_at_their_absolute_limit(world: OfficeWorld) -> None:
    page = f"/office/{world.a.merchant_id}/dashboard"
    async with signed_in(world) as client:
        world.clock.advance(timedelta(minutes=29))
        assert (await client.get(page)).status_code == 200
        world.clock.advance(timedelta(minutes=31))
        assert (await client.get(page)).status_code == 303
    async with signed_in(world) as client:
        for _ in range(int(12 * 60 / 25)):
            world.clock.advance(timedelta(minutes=25))
            assert (await client.get(page)).status_code == 200
        world.clock.advance(timedelta(minutes=25))
        assert (await client.get(page)).status_code == 303


async def test_disabling_a_user_and_revoking_ends_their_sessions(world: OfficeWorld) -> None:
    merchant = world.a.merchant_id
    email, password = await world.add_user(merchant, Role.AGENT)
    agents = [world.instances[i].client() for i in (0, 1)]
    for agent in agents:
        assert (await sign_in(agent, merchant, email, password)).status_code == 303
    async with signed_in(world) as admin:
        token = await csrf_of(admin, merchant)
        users = await admin.get(f"/office/{merchant}/users")
        user_id = users.text.split(f"{email.lower()}</td>")[0].rsplit('data-user="', 1)[1][:36]
        revoked = await admin.post(
            f"/office/{merchant}/users/{user_id}/sessions/revoke", data={"csrf_token": token}
        )
        assert revoked.status_code == 303
        for agent in agents:
            assert (await agent.get(f"/office/{merchant}/dashboard")).status_code == 303
        assert (await sign_in(agents[0], merchant, email, password)).status_code == 303
        disabled = await admin.post(
            f"/office/{merchant}/users/{user_id}/disable", data={"csrf_token": token}
        )
        assert disabled.status_code == 303
        assert (await agents[0].get(f"/office/{merchant}/dashboard")).status_code == 303
        assert (await sign_in(agents[1], merchant, email, password)).status_code == 401
        audit = await admin.get(f"/office/{merchant}/audit")
        assert "user.revoke_sessions" in audit.text
        assert "user.disable" in audit.text
        assert email.lower() not in audit.text
    for agent in agents:
        await agent.aclose()


async def test_throttling_is_shared_by_two_instances(world: OfficeWorld) -> None:
    merchant = world.a.merchant_id
    email, password = await world.add_user(merchant)
    clients = [world.instances[i].client() for i in (0, 1)]
    for attempt in range(5):
        answer = await sign_in(clients[attempt % 2], merchant, email, "wrong-password!")
        assert answer.status_code == 401
    for client in clients:
        blocked = await sign_in(client, merchant, email, password)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) == 30
    world.clock.advance(timedelta(seconds=31))
    assert (await sign_in(clients[1], merchant, email, "wrong-password!")).status_code == 401
    again = await sign_in(clients[0], merchant, email, password)
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) == 60
    world.clock.advance(timedelta(seconds=61))
    assert (await sign_in(clients[0], merchant, email, password)).status_code == 303
    for client in clients:
        await client.aclose()


async def test_one_address_trying_many_accounts_is_throttled(world: OfficeWorld) -> None:
    merchant = world.a.merchant_id
    email, password = await world.add_user(merchant)
    async with world.instances[0].client("203.0.113.9") as client:
        for n in range(20):
            answer = await sign_in(client, merchant, f"guess{n}@example.test", "wrong-password!")
            assert answer.status_code == 401
        assert (await sign_in(client, merchant, email, password)).status_code == 429
    async with world.instances[1].client("203.0.113.10") as other:
        assert (await sign_in(other, merchant, email, password)).status_code == 303


def office_posts(world: OfficeWorld) -> list[str]:
    """Every state-changing office route but the sign-in (which has no session yet)."""
    return [
        path
        for method, path, _ in api_routes(world.instances[0].app.routes)
        if path.startswith("/office/")
        and method in {"POST", "PUT", "PATCH", "DELETE"}
        and (method, path) not in PUBLIC_OFFICE_ROUTES
    ]


async def test_every_office_form_refuses_a_missing_or_wrong_csrf_token(world: OfficeWorld) -> None:
    merchant = world.a.merchant_id
    target_email, _ = await world.add_user(merchant, Role.VIEWER)
    posts = office_posts(world)
    assert "/office/{merchant_id}/logout" in posts
    assert len(posts) >= 6
    async with signed_in(world) as client:
        users = await client.get(f"/office/{merchant}/users")
        user_id = users.text.split(f"{target_email.lower()}</td>")[0].rsplit('data-user="', 1)[1][
            :36
        ]
        for path in posts:
            url = path.replace("{merchant_id}", merchant).replace("{user_id}", user_id)
            url = url.format_map(_Anything())
            for form in ({"role": "admin"}, {"role": "admin", "csrf_token": "0" * 64}):
                answer = await client.post(url, data=form)
                assert answer.status_code == 403, (path, answer.status_code, answer.text[:300])
                assert "This form has expired" in answer.text, path
        assert (await client.get(f"/office/{merchant}/dashboard")).status_code == 200
    connection = await world.connection()
    try:
        roles = await connection.fetch("SELECT role FROM office_users WHERE disabled_at IS NULL")
    finally:
        await connection.close()
    assert sorted(row["role"] for row in roles) == ["admin", "viewer"]


class _Anything(dict[str, str]):
    """Fills path parameters other than the merchant and the user (routes added later)."""

    def __missing__(self, key: str) -> str:
        return "00000000-0000-0000-0000-000000000000"


async def test_an_admin_adds_a_user_who_then_signs_in(world: OfficeWorld) -> None:
    merchant = world.a.merchant_id
    async with signed_in(world) as client:
        token = await csrf_of(client, merchant)
        form = {
            "csrf_token": token,
            "email": "New.Agent@Example.test",
            "display_name": "New Agent",
            "role": "agent",
            "language": "fr",
        }
        added = await client.post(f"/office/{merchant}/users", data=form)
        assert added.status_code == 200
        assert "new.agent@example.test" in added.text
        password = added.text.split("new.agent@example.test: ")[1].split(" ")[0]
        again = await client.post(f"/office/{merchant}/users", data=form)
        assert again.status_code == 409
        bad = await client.post(f"/office/{merchant}/users", data={**form, "role": "owner"})
        assert bad.status_code == 400
        assert "role" in bad.text
    async with world.instances[1].client() as agent:
        assert (
            await sign_in(agent, merchant, "new.agent@example.test", password)
        ).status_code == 303
        page = await agent.get(f"/office/{merchant}/dashboard")
        assert 'lang="fr"' in page.text
        assert (await agent.get(f"/office/{merchant}/users")).status_code == 403
        assert (await agent.get(f"/office/{merchant}/audit")).status_code == 403


async def test_the_audit_log_pages_by_keyset(world: OfficeWorld) -> None:
    from relais_insights.service.office_users import record_audit

    merchant = world.a.merchant_id
    connection = await world.connection()
    try:
        for n in range(120):
            await record_audit(
                connection, None, "test.action", f"target-{n}", {"n": n}, merchant_id=merchant
            )
    finally:
        await connection.close()
    seen: list[str] = []
    async with signed_in(world) as client:
        url: str | None = f"/office/{merchant}/audit"
        while url:
            page = await client.get(url)
            assert page.status_code == 200
            seen += [part.split("</code>")[0] for part in page.text.split("<code>target-")[1:]]
            url = (
                page.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
                if 'rel="next"' in page.text
                else None
            )
    assert seen == [str(n) for n in reversed(range(120))]


async def test_api_keys_open_only_their_scopes(
    infrastructure: Infrastructure, tmp_path: Path
) -> None:
    office_key = "rk_test_" + secrets.token_urlsafe(24)
    insights_key = "rk_test_" + secrets.token_urlsafe(24)
    keys = {office_key: ["backoffice"], insights_key: ["insights", "orders"]}
    async with office_world(infrastructure, tmp_path, scoped_keys=keys) as world:
        a, b = world.a, world.b
        async with world.instances[0].client() as client:

            async def get(path: str, key: str) -> httpx.Response:
                return await client.get(path, headers={"Authorization": f"Bearer {key}"})

            office = await get(f"/v1/office/{a.merchant_id}/key", office_key)
            assert office.status_code == 200
            assert office.json() == {
                "merchant_id": a.merchant_id,
                "key_id": "k0",
                "scopes": ["backoffice"],
            }
            refused = await get(f"/v1/office/{a.merchant_id}/key", insights_key)
            assert refused.status_code == 403
            assert "backoffice" in refused.json()["detail"]
            legacy = await get(f"/v1/office/{a.merchant_id}/key", a.key)
            assert legacy.status_code == 403
            assert (await get(f"/v1/office/{a.merchant_id}/key", b.key)).status_code == 404
            assert (await get(f"/v1/office/{a.merchant_id}/key", "rk_nope")).status_code == 401
            insights_api = f"/api/v1/merchants/{a.merchant_id}/insights"
            assert (await get(insights_api, insights_key)).status_code == 200
            assert (await get(insights_api, a.key)).status_code == 200
            no_scope = await get(insights_api, office_key)
            assert no_scope.status_code == 403
            assert "insights" in no_scope.json()["detail"]
