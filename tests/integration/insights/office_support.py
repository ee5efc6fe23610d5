"""The back office on real PostgreSQL without Kafka: the insights routes mounted on a
FastAPI app per "instance", each with its own pool on one migrated schema, a manual
wall clock, a cheap Argon2 cost (the cost is a parameter, the code path is the same),
and users written the way `relais merchant user add` writes them."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
import httpx
import yaml
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from relais_insights.bootstrap import MIGRATIONS_DIR, configure
from relais_insights.domain.office import Role
from relais_insights.handlers.routes import build_router
from relais_insights.service import office_users
from relais_insights.service.application import Insights
from relais_insights.service.office_users import OfficePolicy
from relais_insights.settings import InsightsSettings
from relais_runtime.clock import ManualClock
from relais_runtime.db import create_pool
from relais_runtime.migrations import migrate
from tests.conftest import Infrastructure, drop_schemas
from tests.integration.insights.support import SESSION_SECRET, Tenant, write_merchants

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@dataclass
class OfficeInstance:
    app: FastAPI
    insights: Insights

    def client(self, address: str = "198.51.100.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://office.test")


@dataclass
class OfficeWorld:
    schema: str
    database_url: str
    clock: ManualClock
    a: Tenant
    b: Tenant
    instances: list[OfficeInstance]

    async def connection(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self.database_url, server_settings={"search_path": self.schema}
        )

    async def add_user(
        self, merchant_id: str, role: Role = Role.ADMIN, *, email: str | None = None
    ) -> tuple[str, str]:
        """A new user's email and password."""
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@Example.test"
        password = secrets.token_urlsafe(12)
        connection = await self.connection()
        try:
            added = await office_users.add_user(
                connection,
                CHEAP_HASHER,
                merchant_id=merchant_id,
                email=email,
                display_name=f"Test {role}",
                role=role,
                language="en",
                password=password,
                at=self.clock.now(),
            )
        finally:
            await connection.close()
        assert added is not None
        return email, password


def api_routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every API route, through included routers (FastAPI
    keeps an included router as one lazy entry of app.routes)."""
    found: list[tuple[str, str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found += [(method, prefix + route.path, route) for method in sorted(route.methods)]
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            found += api_routes(included.routes, prefix + getattr(context, "prefix", ""))
    return found


async def sign_in(
    client: httpx.AsyncClient, merchant_id: str, email: str, password: str
) -> httpx.Response:
    return await client.post(
        f"/office/{merchant_id}/login", data={"email": email, "password": password}
    )


async def csrf_of(client: httpx.AsyncClient, merchant_id: str) -> str:
    """The session's CSRF token, read from a page's sign-out form."""
    page = await client.get(f"/office/{merchant_id}/dashboard")
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def add_keys(path: Path, scoped_keys: dict[str, list[str]]) -> None:
    config = yaml.safe_load(path.read_text())
    for n, (key, scopes) in enumerate(scoped_keys.items()):
        config["tracking"]["api_keys"].append(
            {"id": f"k{n}", "sha256": hashlib.sha256(key.encode()).hexdigest(), "scopes": scopes}
        )
    path.write_text(yaml.safe_dump(config, allow_unicode=True))


@asynccontextmanager
async def office_world(
    infrastructure: Infrastructure,
    directory: Path,
    *,
    instances: int = 1,
    scoped_keys: dict[str, list[str]] | None = None,
    scoped_keys_b: dict[str, list[str]] | None = None,
) -> AsyncIterator[OfficeWorld]:
    """`scoped_keys` (`_b`): more API keys of merchant A (B), by key, with their scopes."""
    unique = uuid.uuid4().hex[:8]
    a, b = write_merchants(directory, unique)
    for tenant, keys in ((a, scoped_keys), (b, scoped_keys_b)):
        if keys:
            add_keys(directory / f"{tenant.merchant_id}.yaml", keys)
    schema = f"test_office_{unique}"
    await migrate(
        database_url=infrastructure.database_url, schema=schema, versions_dir=MIGRATIONS_DIR
    )
    settings = InsightsSettings(
        database_url=infrastructure.database_url,
        session_secrets=[SESSION_SECRET],
        merchants_dir=directory,
    )
    clock = ManualClock()
    policy = OfficePolicy(wall_clock=clock, hasher=CHEAP_HASHER)
    configuration = replace(configure(settings), office=policy)
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(instances):
            pool = await create_pool(database_url=infrastructure.database_url, schema=schema)
            stack.push_async_callback(pool.close)
            insights = Insights(configuration=configuration, pool=pool)
            app = FastAPI()
            app.include_router(build_router(insights))
            made.append(OfficeInstance(app=app, insights=insights))
        try:
            yield OfficeWorld(schema, infrastructure.database_url, clock, a, b, made)
        finally:
            await stack.aclose()
            await drop_schemas(infrastructure.database_url, [schema])
