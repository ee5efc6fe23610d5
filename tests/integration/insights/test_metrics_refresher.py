"""The gauges' refresher on the real database: a merchant whose report fails for its own
reason is skipped and the others are refreshed; an outage ends the round and the loop
carries on; anything else goes to the supervisor."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from relais_insights.bootstrap import build_spec, configure
from relais_insights.service import gauges
from relais_insights.settings import InsightsSettings
from relais_runtime.db import create_pool
from relais_runtime.migrations import migrate
from tests.conftest import Infrastructure, drop_schemas
from tests.integration.conftest import eventually
from tests.integration.insights.support import SESSION_SECRET, write_merchants


def refreshed(merchant_id: str) -> float | None:
    return REGISTRY.get_sample_value("relais_insights_contacts_avoided", {"merchant": merchant_id})


async def test_one_merchant_failing_never_stops_the_others_gauges(
    infrastructure: Infrastructure, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = write_merchants(tmp_path, unique)
    settings = InsightsSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        session_secrets=[SESSION_SECRET],
        merchants_dir=tmp_path,
        metrics_refresh_s=0.05,
    )
    schema = f"test_insights_refresh_{unique}"
    await migrate(
        database_url=settings.database_url, schema=schema, versions_dir=build_spec().migrations_dir
    )
    pool = await create_pool(database_url=settings.database_url, schema=schema)
    build_report = gauges.build_report
    outage = 2
    rounds = 0

    async def flaky(connection: Any, *, merchant: Any, period: Any) -> Any:
        nonlocal outage, rounds
        if merchant.merchant_id == bad.merchant_id:
            rounds += 1
            raise ValueError("a report this merchant's data cannot make")
        if outage:
            outage -= 1
            raise ConnectionRefusedError("the database is restarting")
        return await build_report(connection, merchant=merchant, period=period)

    monkeypatch.setattr(gauges, "build_report", flaky)
    refresh = gauges.metrics_refresher(pool=pool, configuration=configure(settings))
    stop = asyncio.Event()
    task = asyncio.create_task(refresh(stop))
    try:

        async def done() -> bool:
            return refreshed(good.merchant_id) is not None and rounds >= 2

        assert await eventually(done, timeout_s=15, interval_s=0.05)
        assert outage == 0
        assert refreshed(bad.merchant_id) is None
        assert not task.done(), "the refresher is still running"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await pool.close()
        await drop_schemas(infrastructure.database_url, [schema])
