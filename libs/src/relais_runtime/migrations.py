"""Schema migrations per service, with Alembic.

Layout: Alembic's environment lives once, here (`relais_runtime/alembic`); each
service keeps only its revision files in `relais_<service>/migrations/versions`.
Every service has its own schema and its own `alembic_version` table inside it,
so the services' histories are independent.

Rules:
- migrations run at service start, before anything consumes or serves; a schema
  already at the newest revision is recognised without Alembic (`head_revision`), so a
  service's process imports SQLAlchemy and Alembic (25 MB) only when it upgrades;
- concurrent starts of the same service are serialised by an advisory lock;
- a service's first revision calls `create_runtime_tables()` to get the shared
  outbox and processed-events tables, whose DDL is written only here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from relais_runtime.db import checked_schema

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

ALEMBIC_DIR = Path(__file__).parent / "alembic"

RUNTIME_TABLES_DDL: tuple[str, ...] = (
    """CREATE TABLE outbox (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id     uuid        NOT NULL UNIQUE,
        topic        text        NOT NULL,
        key          bytea,
        value        bytea       NOT NULL,
        headers      jsonb       NOT NULL DEFAULT '{}',
        created_at   timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
    )""",
    "CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL",
    "CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL",
    """CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('relais_outbox_' || TG_TABLE_SCHEMA, '');
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()""",
    """CREATE TABLE processed_events (
        consumer_group text        NOT NULL,
        event_id       uuid        NOT NULL,
        processed_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer_group, event_id)
    )""",
)


def create_runtime_tables() -> None:
    """Call from a service's first revision's upgrade()."""
    from alembic import op

    for statement in RUNTIME_TABLES_DDL:
        op.execute(statement)


def to_sqlalchemy_url(database_url: str) -> str:
    scheme, _, rest = database_url.partition("://")
    if scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"not a PostgreSQL URL: scheme {scheme!r}")
    return f"postgresql+asyncpg://{rest}"


def alembic_config(*, schema: str, versions_dir: Path) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("version_locations", str(versions_dir))
    config.set_main_option("path_separator", "os")
    config.attributes["schema"] = checked_schema(schema)
    return config


async def migrate(*, database_url: str, schema: str, versions_dir: Path) -> None:
    """Create the schema if needed and upgrade it to the newest revision."""
    head = head_revision(versions_dir)
    if head is not None and await stored_revisions(database_url, schema) == [head]:
        return
    await _upgrade_with_alembic(database_url=database_url, schema=schema, versions_dir=versions_dir)


_REVISION = re.compile(r"""^(down_)?revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.MULTILINE)


def head_revision(versions_dir: Path) -> str | None:
    """The one revision of `versions_dir` that no other revises, read from the files'
    `revision = "..."` and `down_revision = "..."` lines; None when that is not exactly
    one revision (Alembic then decides)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in versions_dir.glob("*.py"):
        for down, name in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revised if down else revisions).add(name)
    heads = revisions - revised
    return next(iter(heads)) if len(heads) == 1 else None


async def stored_revisions(database_url: str, schema: str) -> list[str]:
    """The revisions the schema's alembic_version holds (none for a new schema)."""
    connection = await asyncpg.connect(
        database_url, server_settings={"search_path": checked_schema(schema)}
    )
    try:
        if await connection.fetchval("SELECT to_regclass('alembic_version')") is None:
            return []
        rows = await connection.fetch("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()
    return [row["version_num"] for row in rows]


async def _upgrade_with_alembic(*, database_url: str, schema: str, versions_dir: Path) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    config = alembic_config(schema=schema, versions_dir=versions_dir)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(database_url, server_settings={"search_path": schema})

    # asyncpg reads the URL itself, as the services' pools do: its TLS parameters
    # (sslmode up to verify-full, sslrootcert, sslcert, sslkey) mean the same in both,
    # where SQLAlchemy would hand them to asyncpg.connect as unknown keywords.
    engine = create_async_engine(
        to_sqlalchemy_url(database_url).split("?", 1)[0],
        poolclass=NullPool,
        async_creator=connect,
    )
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await connection.exec_driver_sql(
                f"SELECT pg_advisory_xact_lock(hashtext('relais-migrate-{schema}'))"
            )
            await connection.run_sync(_upgrade, config)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, "head")
