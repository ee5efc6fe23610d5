"""Tenant isolation of the whole back office, route by route: a session or an API key of
merchant B gets the same 404 on every route of merchant A under /office and /v1/office,
and changes nothing of A. The routes are read from the app at test time, so a route
added later is covered without editing this file; a route with path parameters other
than the merchant is called with a sample value (PATH_SAMPLES, else a zero UUID)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

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

A_OFFICE_KEY = "rk_test_" + secrets.token_urlsafe(24)
B_OFFICE_KEY = "rk_test_" + secrets.token_urlsafe(24)
ALL_SCOPES = ["orders", "insights", "backoffice"]
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
PATH_SAMPLES: dict[str, str] = {}
"""Sample values of path parameters by name (the test fills user_id with A's admin)."""
FORM = {"role": "admin", "email": "intruder@example.test", "display_name": "X", "language": "en"}
UNIFORM = {"detail": "not found"}


@pytest.fixture(scope="module")
async def world(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OfficeWorld]:
    directory: Path = tmp_path_factory.mktemp("merchants")
    async with office_world(
        infrastructure,
        directory,
        scoped_keys={A_OFFICE_KEY: ALL_SCOPES},
        scoped_keys_b={B_OFFICE_KEY: ALL_SCOPES},
    ) as made:
        yield made


def office_routes(world: OfficeWorld) -> list[tuple[str, str]]:
    routes = {
        (method, path)
        for method, path, _ in api_routes(world.instances[0].app.routes)
        if (path.startswith(("/office/", "/v1/office/")) and method != "HEAD")
    }
    return sorted(routes - PUBLIC_OFFICE_ROUTES)


def url_of(path: str, merchant_id: str, samples: dict[str, str]) -> str:
    values = {**samples, "merchant_id": merchant_id}
    while "{" in path:
        head, rest = path.split("{", 1)
        name, tail = rest.split("}", 1)
        path = head + values.get(name.split(":")[0], ZERO_UUID) + tail
    return path


async def snapshot(world: OfficeWorld, merchant_id: str) -> list[object]:
    connection = await world.connection()
    try:
        users = await connection.fetch(
            "SELECT user_id, email, role, disabled_at, password_hash FROM office_users"
            " WHERE merchant_id = $1 ORDER BY user_id",
            merchant_id,
        )
        sessions = await connection.fetch(
            "SELECT session_hash, revoked_at FROM office_sessions WHERE merchant_id = $1"
            " ORDER BY session_hash",
            merchant_id,
        )
        audit = await connection.fetchval(
            "SELECT count(*) FROM office_audit WHERE merchant_id = $1", merchant_id
        )
    finally:
        await connection.close()
    return [[tuple(row) for row in users], [tuple(row) for row in sessions], audit]


async def a_admin_id(world: OfficeWorld, email: str) -> str:
    connection = await world.connection()
    try:
        found = await connection.fetchval(
            "SELECT user_id FROM office_users WHERE merchant_id = $1 AND email = lower($2)",
            world.a.merchant_id,
            email,
        )
    finally:
        await connection.close()
    return str(found)


async def test_the_routes_walked_include_the_office_and_its_api(world: OfficeWorld) -> None:
    routes = office_routes(world)
    assert ("GET", "/office/{merchant_id}/users") in routes
    assert ("POST", "/office/{merchant_id}/logout") in routes
    assert ("GET", "/v1/office/{merchant_id}/key") in routes


async def test_a_session_of_b_gets_nothing_of_a(world: OfficeWorld) -> None:
    a, b = world.a.merchant_id, world.b.merchant_id
    a_email, a_password = await world.add_user(a, Role.ADMIN)
    b_email, b_password = await world.add_user(b, Role.ADMIN)
    samples = {**PATH_SAMPLES, "user_id": await a_admin_id(world, a_email)}
    async with world.instances[0].client() as own, world.instances[0].client() as intruder:
        assert (await sign_in(own, a, a_email, a_password)).status_code == 303
        assert (await sign_in(intruder, b, b_email, b_password)).status_code == 303
        b_token = await csrf_of(intruder, b)
        b_session = intruder.cookies[COOKIE]
        intruder.cookies.clear()
        intruder.cookies.set(COOKIE, b_session)
        before = await snapshot(world, a)
        for method, path in office_routes(world):
            if path.startswith("/v1/"):
                continue
            url = url_of(path, a, samples)
            data = {**FORM, "csrf_token": b_token} if method != "GET" else None
            answer = await intruder.request(method, url, data=data)
            assert answer.status_code == 404, (method, path, answer.status_code)
            assert answer.json() == UNIFORM, (method, path, answer.text[:200])
            if method == "GET" and path.count("{") == 1:
                mine = await own.get(url)
                assert mine.status_code in (200, 303), (path, mine.status_code)
        assert await snapshot(world, a) == before
        own_login = await intruder.post(
            f"/office/{a}/login", data={"email": b_email, "password": b_password}
        )
        assert own_login.status_code == 401


async def test_an_api_key_of_b_gets_nothing_of_a(world: OfficeWorld) -> None:
    a = world.a.merchant_id
    samples = {**PATH_SAMPLES}
    async with world.instances[0].client() as client:
        before = await snapshot(world, a)
        for method, path in office_routes(world):
            if not path.startswith("/v1/"):
                continue
            url = url_of(path, a, samples)
            json_body = {} if method != "GET" else None
            answer = await client.request(
                method, url, json=json_body, headers={"Authorization": f"Bearer {B_OFFICE_KEY}"}
            )
            assert answer.status_code == 404, (method, path, answer.status_code)
            assert answer.json() == UNIFORM, (method, path, answer.text[:200])
            if method == "GET" and path.count("{") == 1:
                mine = await client.get(url, headers={"Authorization": f"Bearer {A_OFFICE_KEY}"})
                assert mine.status_code == 200, (path, mine.status_code)
        assert await snapshot(world, a) == before


async def test_the_sign_in_cookie_is_scoped_to_its_merchant(world: OfficeWorld) -> None:
    b = world.b.merchant_id
    email, password = await world.add_user(b, Role.VIEWER)
    async with world.instances[0].client() as client:
        answer = await sign_in(client, b, email, password)
    assert f"Path=/office/{b};" in answer.headers["set-cookie"] or answer.headers[
        "set-cookie"
    ].endswith(f"Path=/office/{b}")
