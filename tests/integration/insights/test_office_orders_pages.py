"""The back office's orders on real PostgreSQL, projected by the real projection steps: the
list page and the API (filters, search, keyset pages that stay stable while rows are
added, 422 naming the field, a tampered cursor refused), the order page with its
timeline in French and English, and tenant isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from relais_contracts import ids
from relais_contracts.topics import anomalies, shipment_state
from relais_insights.bootstrap import configure
from relais_insights.domain.office import Role
from relais_insights.service import office_orders
from relais_insights.settings import InsightsSettings
from tests.conftest import Infrastructure
from tests.integration.insights.office_support import OfficeWorld, office_world, sign_in
from tests.integration.insights.support import SESSION_SECRET, Tenant, _example, _with
from tests.integration.insights.test_office_orders_projection import with_backoffice_key

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CARRIERS = ("colissimo", "dhl", "ups")


@pytest.fixture
async def world(infrastructure: Infrastructure, tmp_path: Path) -> AsyncIterator[OfficeWorld]:
    async with office_world(infrastructure, tmp_path) as made:
        yield made


def office_key(world: OfficeWorld, directory: Path) -> str:
    """A `backoffice` key for merchant A, added to its file and to the running app's ring."""
    key = with_backoffice_key(directory, Tenant(world.a.merchant_id, "")).key
    settings = InsightsSettings(
        database_url="postgresql://unused",
        session_secrets=[SESSION_SECRET],
        merchants_dir=directory,
    )
    keys = configure(settings).keys
    for instance in world.instances:
        object.__setattr__(instance.insights.configuration, "keys", keys)
    return key


async def add_parcel(world: OfficeWorld, merchant_id: str, n: int, *, anomaly: bool) -> None:
    shipment = f"P{n:03d}"
    keyed = {"shipment_id": shipment, "correlation_id": shipment}
    state = _example(shipment_state.TOPIC, "ShipmentStateChanged-colissimo-out-for-delivery.json")
    placed = START + timedelta(hours=n)
    customer = state.customer.model_copy(update={"email": f"client{n}@example.fr"})
    parcel = _with(
        state,
        merchant_id,
        f"{shipment}-state",
        placed,
        placed_at=placed,
        version=1,
        cause=shipment_state.StateChangeCause.ORDER_PLACED,
        order_number=f"#20{n:03d}",
        order_id=f"O{n:03d}",
        carrier=CARRIERS[n % 3],
        tracking_number=f"TRK{n:05d}",
        customer=customer,
        **keyed,
    )
    connection = await world.connection()
    try:
        async with connection.transaction():
            await office_orders.project_state(connection, parcel)
        if anomaly:
            raised = _with(
                _example(anomalies.TOPIC, "AnomalyDetected-failed-attempt-en.json"),
                merchant_id,
                f"{shipment}-raised",
                placed + timedelta(minutes=30),
                anomaly_id=ids.anomaly_id(merchant_id, shipment, "failed_attempt"),
                **keyed,
            )
            async with connection.transaction():
                await office_orders.project_event(connection, raised)
    finally:
        await connection.close()


@asynccontextmanager
async def signed_in_client(
    world: OfficeWorld, merchant_id: str
) -> AsyncIterator[httpx.AsyncClient]:
    email, password = await world.add_user(merchant_id, Role.VIEWER)
    async with world.instances[0].client() as client:
        answer = await sign_in(client, merchant_id, email, password)
        assert answer.status_code == 303, answer.text
        yield client


async def test_api_pages_stay_stable_while_rows_are_added(
    world: OfficeWorld, tmp_path: Path
) -> None:
    merchant_id = world.a.merchant_id
    key = office_key(world, tmp_path)
    for n in range(10, 20):
        await add_parcel(world, merchant_id, n, anomaly=n % 2 == 0)
    url = f"/v1/office/{merchant_id}/shipments"
    async with world.instances[0].client() as client:
        client.headers["Authorization"] = f"Bearer {key}"
        first = (await client.get(url, params={"limit": 4})).json()
        assert [s["shipment_id"] for s in first["shipments"]] == ["P019", "P018", "P017", "P016"]
        assert first["previous_cursor"] is None
        for n in (30, 31, 5):  # newer and older parcels arrive between two pages
            await add_parcel(world, merchant_id, n, anomaly=False)
        second = (await client.get(url, params={"limit": 4, "cursor": first["next_cursor"]})).json()
        assert [s["shipment_id"] for s in second["shipments"]] == ["P015", "P014", "P013", "P012"]
        back = (
            await client.get(url, params={"limit": 4, "cursor": second["previous_cursor"]})
        ).json()
        assert [s["shipment_id"] for s in back["shipments"]] == ["P019", "P018", "P017", "P016"]
        assert back["previous_cursor"] is not None  # P030 and P031 are newer now
        last = (await client.get(url, params={"limit": 4, "cursor": second["next_cursor"]})).json()
        assert [s["shipment_id"] for s in last["shipments"]] == ["P011", "P010", "P005"]
        assert last["next_cursor"] is None

        filtered = (
            await client.get(url, params={"anomaly": "failed_attempt", "resolved": "false"})
        ).json()
        assert [s["shipment_id"] for s in filtered["shipments"]] == [
            "P018",
            "P016",
            "P014",
            "P012",
            "P010",
        ]
        assert filtered["shipments"][0]["open_anomalies"] == ["failed_attempt"]
        by_prefix = (await client.get(url, params={"q": "#2001"})).json()
        assert {s["shipment_id"] for s in by_prefix["shipments"]} == {
            f"P0{n}" for n in range(10, 20)
        }
        by_tracking = (await client.get(url, params={"q": "TRK00013"})).json()
        assert [s["shipment_id"] for s in by_tracking["shipments"]] == ["P013"]
        ordered = (
            await client.get(
                url, params={"ordered_from": "2026-03-02", "ordered_to": "2026-03-02", "limit": 50}
            )
        ).json()
        # placed 09:00 UTC + n hours: P005 and P010 to P013 fall on 2 March in Paris
        assert [s["shipment_id"] for s in ordered["shipments"]] == [
            "P013",
            "P012",
            "P011",
            "P010",
            "P005",
        ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "teleported"}, "status"),
        ({"carrier": "DHL!"}, "carrier"),
        ({"ordered_from": "2026-03-05", "ordered_to": "2026-03-01"}, "ordered_to"),
        ({"limit": "5000"}, "limit"),
        ({"stauts": "delivered"}, "stauts"),
        ({"cursor": "forged.cursor"}, "cursor"),
    ],
)
async def test_a_bad_filter_is_422_naming_the_field(
    world: OfficeWorld, tmp_path: Path, params: dict[str, str], field: str
) -> None:
    key = office_key(world, tmp_path)
    async with world.instances[0].client() as client:
        answer = await client.get(
            f"/v1/office/{world.a.merchant_id}/shipments",
            params=params,
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][-1] == field


async def test_another_merchants_cursor_is_refused(world: OfficeWorld, tmp_path: Path) -> None:
    key = office_key(world, tmp_path)
    for n in range(3):
        await add_parcel(world, world.a.merchant_id, n, anomaly=False)
    codec = world.instances[0].insights.configuration.cursors
    from relais_insights.domain.order_filters import Position

    foreign = codec.encode(world.b.merchant_id, Position(START, "P001"))
    async with world.instances[0].client() as client:
        answer = await client.get(
            f"/v1/office/{world.a.merchant_id}/shipments",
            params={"cursor": foreign},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 422


async def test_the_list_page_filters_searches_and_pages_without_javascript(
    world: OfficeWorld,
) -> None:
    merchant_id = world.a.merchant_id
    for n in range(60):
        await add_parcel(world, merchant_id, n, anomaly=n % 4 == 0)
    async with signed_in_client(world, merchant_id) as client:
        page = await client.get(f"/office/{merchant_id}/orders?lang=fr")
        assert page.status_code == 200
        assert "Commandes" in page.text
        assert page.text.count("<tr data-shipment=") == 50
        assert 'rel="next"' in page.text
        assert 'rel="prev"' not in page.text
        following = page.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
        rest = await client.get(f"/office/{merchant_id}/orders{following}")
        assert rest.text.count("<tr data-shipment=") == 10
        assert 'rel="prev"' in rest.text
        filtered = await client.get(
            f"/office/{merchant_id}/orders",
            params={"anomaly": "failed_attempt", "carrier": "", "status": "", "lang": "en"},
        )
        assert filtered.text.count("<tr data-shipment=") == 15
        assert "Failed delivery attempt" in filtered.text
        searched = await client.get(
            f"/office/{merchant_id}/orders", params={"q": "client7@example.fr"}
        )
        assert searched.text.count("<tr data-shipment=") == 1
        assert 'data-shipment="P007"' in searched.text
        bad = await client.get(f"/office/{merchant_id}/orders", params={"region": "Paris"})
        assert bad.status_code == 400
        assert "region" in bad.text


async def test_the_order_page_shows_one_timeline_in_both_languages(world: OfficeWorld) -> None:
    merchant_id = world.a.merchant_id
    await add_parcel(world, merchant_id, 7, anomaly=True)
    async with signed_in_client(world, merchant_id) as client:
        path = f"/office/{merchant_id}/orders/{quote('#20007', safe='')}"
        english = await client.get(path, params={"lang": "en"})
        assert english.status_code == 200, english.text
        assert english.text.index('data-kind="order_placed"') < english.text.index(
            'data-kind="anomaly_raised"'
        )
        assert "Failed delivery attempt detected" in english.text
        french = await client.get(path, params={"lang": "fr"})
        assert "Historique" in french.text
        assert "Échec de livraison détecté" in french.text
        missing = await client.get(f"/office/{merchant_id}/orders/{quote('#nope', safe='')}")
        assert missing.status_code == 404


async def test_a_user_of_another_merchant_sees_nothing(world: OfficeWorld) -> None:
    await add_parcel(world, world.a.merchant_id, 7, anomaly=True)
    async with signed_in_client(world, world.b.merchant_id) as client:
        for path in (
            f"/office/{world.a.merchant_id}/orders",
            f"/office/{world.a.merchant_id}/orders/{quote('#20007', safe='')}",
        ):
            answer = await client.get(path)
            assert answer.status_code in (303, 404), path
            assert "20007" not in answer.text
        own = await client.get(f"/office/{world.b.merchant_id}/orders")
        assert own.status_code == 200
        assert "20007" not in own.text
