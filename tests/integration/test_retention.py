"""The retention pass on a real schema: what is past its time goes, nothing else does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest

from relais_contracts.registry import Cleanup
from relais_runtime.db import create_pool
from relais_runtime.migrations import migrate
from relais_runtime.retention import RetentionPass, claim_retention
from tests.conftest import Infrastructure
from tests.integration.harness import MIGRATIONS, make_topic

DAY_S = 24 * 3600


@pytest.fixture
async def pool(infrastructure: Infrastructure, schema: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url=infrastructure.database_url, schema=schema, versions_dir=MIGRATIONS)
    pool = await create_pool(database_url=infrastructure.database_url, schema=schema)
    yield pool
    await pool.close()


async def add_outbox(pool: asyncpg.Pool, *, published_days_ago: float | None) -> uuid.UUID:
    event_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO outbox (event_id, topic, value, published_at) VALUES ($1, 't', 'v', "
        "CASE WHEN $2::float8 IS NULL THEN NULL ELSE now() - make_interval(days => $2::int) END)",
        event_id,
        published_days_ago,
    )
    return event_id


async def add_claim(pool: asyncpg.Pool, *, group: str, days_ago: int) -> uuid.UUID:
    event_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO processed_events (consumer_group, event_id, processed_at) "
        "VALUES ($1, $2, now() - make_interval(days => $3))",
        group,
        event_id,
        days_ago,
    )
    return event_id


async def test_only_rows_past_their_time_are_deleted(pool: asyncpg.Pool, unique: str) -> None:
    weekly = make_topic(f"relais.test-retention-{unique}.v1")  # 7 days of retention
    compacted = replace(make_topic(f"relais.test-retention-c-{unique}.v1"), cleanup=Cleanup.COMPACT)
    claims = [
        kept
        for group, topic in (("weekly", weekly), ("compacted", compacted))
        if (kept := claim_retention(group, topic))
    ]
    assert [claim.group for claim in claims] == ["weekly"]

    old_published = [await add_outbox(pool, published_days_ago=10) for _ in range(7)]
    recent = await add_outbox(pool, published_days_ago=1)
    unpublished = await add_outbox(pool, published_days_ago=None)
    old_weekly = [await add_claim(pool, group="weekly", days_ago=9) for _ in range(5)]
    young_weekly = await add_claim(pool, group="weekly", days_ago=6)
    old_compacted = await add_claim(pool, group="compacted", days_ago=400)

    retention = RetentionPass(
        pool=pool, claims=claims, outbox_retention_s=7 * DAY_S, batch_size=3, interval_s=60
    )
    assert await retention.purge_once() == {"outbox": 7, "processed_events": 5}
    assert await retention.purge_once() == {"outbox": 0, "processed_events": 0}

    outbox = {row["event_id"] for row in await pool.fetch("SELECT event_id FROM outbox")}
    kept_claims = {
        row["event_id"] for row in await pool.fetch("SELECT event_id FROM processed_events")
    }
    assert outbox == {recent, unpublished}
    assert not outbox & set(old_published)
    assert kept_claims == {young_weekly, old_compacted}
    assert not kept_claims & set(old_weekly)
