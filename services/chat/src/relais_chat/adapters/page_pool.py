"""The customer pages' own PostgreSQL connections.

Rules:
- a page view borrows a connection from this pool, never from the service's pool (the
  consumers', the outbox relay's): a burst of visitors cannot starve the consumers,
  and a page view costs exactly its own transaction;
- a connection goes back without asyncpg's reset query (`pg_advisory_unlock_all(); CLOSE
  ALL; UNLISTEN *; RESET ALL`, a round trip and a transaction of its own on every
  release): the pages' SQL leaves nothing in the session to reset (no session advisory
  lock, cursor, LISTEN or SET; only transaction-scoped settings). asyncpg still rolls
  back a transaction left open;
- its connections use the schema (search_path) of the service's pool, read once when
  the pool opens, on the first page view; the pool opens with no connection and keeps
  at most `max_size` (the service pool's size, RELAIS_DATABASE_POOL_MAX).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from relais_runtime.db import DbConnection, open_schema_pool


async def keep_session(_connection: asyncpg.Connection) -> None:
    """The pool's `reset`: nothing to undo (see the module's rules)."""


class PagePool:
    def __init__(self, *, database_url: str, service_pool: asyncpg.Pool, max_size: int) -> None:
        self._database_url = database_url
        self._service_pool = service_pool
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[DbConnection]:
        pool = self._pool or await self._open()
        async with pool.acquire() as connection:
            yield connection

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                async with self._service_pool.acquire() as connection:
                    schema = await connection.fetchval("SELECT current_schema()")
                self._pool = await open_schema_pool(
                    database_url=self._database_url,
                    schema=schema,
                    min_size=0,
                    max_size=self._max_size,
                    role="pages",
                    reset=keep_session,
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
