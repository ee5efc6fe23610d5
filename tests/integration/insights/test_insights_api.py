"""The insights service on real Kafka and PostgreSQL: two merchants' events in, their
figures out of the API, each merchant seeing only its own; redelivered events change
nothing; the dashboard needs a session made from the merchant's own key."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from relais_contracts.envelope import Event
from relais_runtime.kafka import publish_events
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually
from tests.integration.insights.support import (
    RunningInsights,
    Tenant,
    now_utc,
    running_insights,
    story,
    to_test_topics,
    write_merchants,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", name="unique")
def module_unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def merchants(tmp_path_factory: pytest.TempPathFactory, unique: str) -> tuple[Path, Tenant, Tenant]:
    directory = tmp_path_factory.mktemp("merchants")
    a, b = write_merchants(directory, unique)
    return directory, a, b


@pytest.fixture(scope="module")
async def insights(
    infrastructure: Infrastructure, merchants: tuple[Path, Tenant, Tenant], unique: str
) -> AsyncIterator[RunningInsights]:
    async with running_insights(
        infrastructure, unique=unique, merchants_dir=merchants[0]
    ) as running:
        yield running


@pytest.fixture(scope="module")
async def published(
    infrastructure: Infrastructure,
    insights: RunningInsights,
    merchants: tuple[Path, Tenant, Tenant],
    unique: str,
) -> list[tuple[str, Event]]:
    _, a, b = merchants
    now = now_utc()
    events = story(a.merchant_id, now=now, told=True, csat=4, views=2)
    events += story(b.merchant_id, now=now, told=False, csat=2, views=1)
    events = to_test_topics(events, unique)
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for topic, event in events:
            await publish_events(producer, topic=topic, events=[event])
    finally:
        await producer.stop()
    expected = {a.merchant_id: 7, b.merchant_id: 5}
    for merchant_id, count in expected.items():

        async def arrived(merchant_id: str = merchant_id, count: int = count) -> bool:
            return await insights.fact_count(merchant_id) == count

        assert await eventually(arrived, timeout_s=45), (
            f"facts of {merchant_id} never arrived: {await insights.kinds(merchant_id)}"
        )
    return events


async def figures(insights: RunningInsights, merchant: Tenant) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=insights.base_url) as client:
        response = await client.get(
            f"/api/v1/merchants/{merchant.merchant_id}/insights",
            headers={"Authorization": f"Bearer {merchant.key}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_each_merchant_gets_its_exact_figures(
    insights: RunningInsights,
    merchants: tuple[Path, Tenant, Tenant],
    published: list[tuple[str, Event]],
) -> None:
    _, a, b = merchants
    mine = await figures(insights, a)
    assert mine["merchant_id"] == a.merchant_id
    assert mine["headline"] == {
        "parcels": 1,
        "anomalies": 1,
        "anomaly_share": 1.0,
        "told_share": 1.0,
        "median_minutes_to_tell": 12.0,
        "resolution_rate": 0.0,
        "csat_average": 4.0,
        "csat_responses": 1,
        "views_per_order": 2.0,
        "on_time_rate": None,
        "contacts_avoided": 1.0,
        "money_saved": "1.90",
        "currency": "EUR",
    }
    assert mine["funnel"]["stages"][2] == {"stage": "opened", "count": 1, "share_of_previous": 1.0}  # type: ignore[index]
    theirs = await figures(insights, b)
    assert theirs["headline"]["told_share"] == 0.0  # type: ignore[index]
    assert theirs["headline"]["csat_average"] == 2.0  # type: ignore[index]
    assert (theirs["headline"]["money_saved"], theirs["headline"]["currency"]) == ("1.25", "GBP")  # type: ignore[index]
    assert theirs["headline"]["contacts_avoided"] == 0.5  # type: ignore[index]
    assert theirs["savings"]["wismo_contact_rate"] == 0.5  # type: ignore[index]


async def test_a_merchant_cannot_read_another_merchants_figures(
    insights: RunningInsights, merchants: tuple[Path, Tenant, Tenant]
) -> None:
    _, a, b = merchants
    async with httpx.AsyncClient(base_url=insights.base_url) as client:
        path = f"/api/v1/merchants/{b.merchant_id}/insights"
        assert (await client.get(path)).status_code == 401
        wrong = await client.get(path, headers={"Authorization": "Bearer rk_not_a_key"})
        assert wrong.status_code == 401
        other = await client.get(path, headers={"Authorization": f"Bearer {a.key}"})
        assert other.status_code == 403
        assert b.merchant_id not in other.text or "another merchant" in other.text
        csv_other = await client.get(path + ".csv", headers={"Authorization": f"Bearer {a.key}"})
        assert csv_other.status_code == 403
        unknown = await client.get(
            "/api/v1/merchants/nobody-here/insights", headers={"Authorization": f"Bearer {a.key}"}
        )
        assert unknown.status_code == 404
        bad = await client.get(
            f"/api/v1/merchants/{a.merchant_id}/insights?from=2026-03-10&to=2026-03-01",
            headers={"Authorization": f"Bearer {a.key}"},
        )
        assert bad.status_code == 400
        assert "before" in bad.json()["detail"]


async def test_csv_export_carries_the_same_figures(
    insights: RunningInsights,
    merchants: tuple[Path, Tenant, Tenant],
    published: list[tuple[str, Event]],
) -> None:
    _, a, _ = merchants
    async with httpx.AsyncClient(base_url=insights.base_url) as client:
        response = await client.get(
            f"/api/v1/merchants/{a.merchant_id}/insights.csv",
            headers={"Authorization": f"Bearer {a.key}"},
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = {(r[0], r[1], r[2]): r[3] for r in csv.reader(io.StringIO(response.text)) if len(r) == 4}
    assert rows[("headline", "", "money_saved")] == "1.90"
    assert rows[("wismo", "", "tracking_page_views")] == "2"


async def test_redelivered_events_change_no_figure(
    infrastructure: Infrastructure,
    insights: RunningInsights,
    merchants: tuple[Path, Tenant, Tenant],
    published: list[tuple[str, Event]],
) -> None:
    _, a, b = merchants
    before = (await figures(insights, a), await figures(insights, b))
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for topic, event in published:
            await publish_events(producer, topic=topic, events=[event])
        marker = published[-1]  # a fresh view after the replay tells us it was all consumed
        fresh = marker[1].model_copy(update={"event_id": uuid.uuid4()})
        await publish_events(producer, topic=marker[0], events=[fresh])
    finally:
        await producer.stop()

    async def caught_up() -> bool:
        return await insights.fact_count(b.merchant_id) == 6

    assert await eventually(caught_up, timeout_s=45)
    await asyncio.sleep(0.5)
    assert await insights.fact_count(a.merchant_id) == 7
    assert await figures(insights, a) == before[0]
    after_b = await figures(insights, b)
    assert after_b["wismo"]["tracking_page_views"] == before[1]["wismo"]["tracking_page_views"] + 1  # type: ignore[index]


async def test_the_dashboard_needs_the_merchants_own_key(
    insights: RunningInsights,
    merchants: tuple[Path, Tenant, Tenant],
    published: list[tuple[str, Event]],
) -> None:
    _, a, b = merchants
    async with httpx.AsyncClient(base_url=insights.base_url) as client:
        page = f"/insights/{a.merchant_id}"
        assert (await client.get(page)).status_code == 303
        refused = await client.post(f"{page}/login", data={"api_key": b.key})
        assert refused.status_code == 401
        assert client.cookies.get("relais_insights") is None
        signed = await client.post(f"{page}/login", data={"api_key": a.key, "lang": "en"})
        assert signed.status_code == 303
        shown = await client.get(page, params={"lang": "en"})
        assert shown.status_code == 200
        assert "Money saved" in shown.text
        assert "€1.90" in shown.text
        assert "<svg" in shown.text
        other = await client.get(f"/insights/{b.merchant_id}")
        assert other.status_code == 303  # a's session does not open b's dashboard
        exported = await client.get(f"{page}/export.csv")
        assert exported.status_code == 200


async def test_a_rebuild_replays_the_topics_into_the_same_figures(
    infrastructure: Infrastructure,
    insights: RunningInsights,
    merchants: tuple[Path, Tenant, Tenant],
    published: list[tuple[str, Event]],
    unique: str,
) -> None:
    directory, a, b = merchants
    expected = {m.merchant_id: await insights.fact_count(m.merchant_id) for m in (a, b)}
    async with running_insights(
        infrastructure, unique=unique, merchants_dir=directory, generation="rebuilt"
    ) as rebuilt:

        async def replayed() -> bool:
            return all([await rebuilt.fact_count(m) == n for m, n in expected.items()])

        assert await eventually(replayed, timeout_s=45)
        for merchant in (a, b):
            assert await figures(rebuilt, merchant) == await figures(insights, merchant)


async def test_headline_gauges_reach_prometheus(
    insights: RunningInsights,
    merchants: tuple[Path, Tenant, Tenant],
    published: list[tuple[str, Event]],
) -> None:
    _, a, _ = merchants
    wanted = (
        f'relais_insights_money_saved{{currency="EUR",merchant="{a.merchant_id}"}} 1.9',
        f'relais_insights_anomaly_share{{merchant="{a.merchant_id}"}} 1.0',
        f'relais_insights_csat_average{{merchant="{a.merchant_id}"}} 4.0',
    )
    async with httpx.AsyncClient(base_url=insights.base_url) as client:

        async def exposed() -> bool:
            text = (await client.get("/metrics")).text
            return all(line in text for line in wanted)

        assert await eventually(exposed, timeout_s=20), "headline gauges not exposed"
