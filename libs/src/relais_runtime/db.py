"""PostgreSQL access: one asyncpg pool per service, bound to the service's schema.

Rules:
- every connection of a service's pool has `search_path` set to the service's own
  schema, so its SQL is unqualified and it cannot read another service's tables
  by accident;
- the schema is created at start, before migrations run.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

DbConnection = asyncpg.Connection | PoolConnectionProxy
"""A connection as handlers get it: plain, or borrowed from a pool."""

SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def checked_schema(schema: str) -> str:
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


async def create_pool(
    *, database_url: str, schema: str, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    checked_schema(schema)
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await connection.close()
    return await open_schema_pool(
        database_url=database_url, schema=schema, min_size=min_size, max_size=max_size
    )


async def open_schema_pool(
    *,
    database_url: str,
    schema: str,
    min_size: int,
    max_size: int,
    role: str | None = None,
    reset: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    """A pool bound to an existing schema; `role` names a second pool of the service in
    `application_name` (relais-<schema>-<role>); `reset` replaces asyncpg's reset query."""
    name = f"relais-{checked_schema(schema)}" + (f"-{role}" if role else "")
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        reset=reset,
        server_settings={"search_path": schema, "application_name": name},
    )
    assert pool is not None
    return pool


async def database_is_ready(pool: asyncpg.Pool) -> bool:
    try:
        async with pool.acquire(timeout=2) as connection:
            await connection.fetchval("SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True
