"""The tracking page, the lookup page and the security headers in a real Chromium.

A real chat service on the real Kafka and PostgreSQL learns shipments from the topics;
Debian's Chromium opens the pages. Covered: the progress stepper for several states,
the lookup (right answer -> tracking page, a wrong order and a wrong email give the
same page, the rate limit), the calendar file (downloaded and parsed), the pickup point
and the merchant's content blocks, the security headers on every route, and axe-core
(no serious or critical violation) on the chat, tracking, lookup and survey pages.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi.routing import APIRoute
from playwright.async_api import Browser, BrowserContext

from relais_chat.handlers import build_router
from relais_chat.service.pages import CustomerPages
from relais_contracts.catalogue import AnomalyType
from relais_contracts.tracking import DeliveryEstimate, Incident, IncidentReason, Substatus
from relais_contracts.tracking import TrackingStatus as S
from relais_runtime.links import LinkPurpose
from tests.conftest import Infrastructure
from tests.e2e.axe import describe, violations
from tests.integration.chat.support import RunningChat, Story, link, running_chat, story
from tests.unit.chat.ics_reader import parse_ics

pytestmark = pytest.mark.integration

MERCHANT = "maison-lumiere"
OTHER = "velocity-sports"
EMBEDDER = "https://maison-lumiere.example"


@pytest.fixture(scope="module")
async def chat(infrastructure: Infrastructure) -> AsyncIterator[RunningChat]:
    async with running_chat(infrastructure, unique=uuid.uuid4().hex[:10]) as running:
        yield running


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


def client_ip() -> str:
    """A client address of its own (uvicorn trusts X-Forwarded-For from loopback), so one
    test's lookups never count against another's."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def new_context(
    browser: Browser, *, locale: str = "fr-FR", js: bool = True
) -> BrowserContext:
    return await browser.new_context(
        locale=locale,
        java_script_enabled=js,
        accept_downloads=True,
        extra_http_headers={"X-Forwarded-For": client_ip()},
    )


def shipment_id() -> str:
    return f"E2E-{uuid.uuid4().hex[:8]}"


def with_state(one: Story, **changes: object) -> Story:
    return Story(state=one.state.model_copy(update=changes), events=one.events, anomaly=one.anomaly)


def stage_stories() -> dict[str, Story]:
    """One shipment per stage of the stepper, with the label the French page shows."""
    home = story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None)
    not_shipped = {"carrier": None, "tracking_number": None, "shipped_at": None, "last_event": None}
    ordered = with_state(
        story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None),
        status=S.PENDING,
        substatus=Substatus.AWAITING_SHIPMENT,
        **not_shipped,
    )
    prepared = with_state(
        story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None),
        status=S.INFO_RECEIVED,
        substatus=Substatus.LABEL_CREATED,
        shipped_at=None,
    )
    shipped = with_state(
        story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None),
        status=S.IN_TRANSIT,
        substatus=Substatus.ARRIVED_AT_FACILITY,
    )
    delivered = story(
        merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None, delivered=True
    )
    pickup = story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None, pickup=True)
    return {
        "Commandé": ordered,
        "Préparé": prepared,
        "Expédié": shipped,
        "En cours de livraison": home,
        "Livré": delivered,
        "Disponible au retrait": pickup,
    }


async def tracking_url(chat: RunningChat, one: Story) -> str:
    path = link(
        merchant_id=one.merchant_id, purpose=LinkPurpose.TRACKING, subject=one.state.shipment_id
    )
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        await chat.wait_until_known(client, path)
    return chat.base_url + path


async def test_the_stepper_marks_the_current_step_of_each_state(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer
) -> None:
    stories = stage_stories()
    await chat.learn(producer, list(stories.values()))
    context = await new_context(browser, js=False)
    page = await context.new_page()
    try:
        for label, one in stories.items():
            await page.goto(await tracking_url(chat, one))
            current = page.locator(".stepper li[aria-current='step']")
            assert await current.count() == 1
            assert (await current.locator(".label").inner_text()) == label, one.state.status
            steps = await page.locator(".stepper li").count()
            assert steps == 5
    finally:
        await context.close()


async def test_the_tracking_page_shows_dates_timeline_contents_and_the_merchant_blocks(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer
) -> None:
    late = with_state(
        story(
            merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=AnomalyType.DELIVERY_LATE
        ),
        status=S.EXCEPTION,
        substatus=Substatus.DELAYED_WEATHER,
        incident=Incident.of(IncidentReason.WEATHER_DELAY),
        promised_delivery_by=date.today() + timedelta(days=1),
        estimated_delivery=DeliveryEstimate(day=date.today() + timedelta(days=3)),
    )
    await chat.learn(producer, [late])
    context = await new_context(browser)
    page = await context.new_page()
    try:
        await page.goto(await tracking_url(chat, late))
        await page.get_by_text("Plus tard que prévu").wait_for()
        await page.get_by_text("Raison : Votre colis a du retard à cause de la météo.").wait_for()
        first = page.locator(".timeline li").first
        assert await first.locator(".fact").inner_text() == "Votre colis est en cours de livraison."
        carrier_words = first.locator(".carrier-words span[lang='fr']")
        assert (await carrier_words.inner_text()).startswith(
            "Votre colis est en cours de livraison ("
        )
        await page.get_by_text("Housse de coussin en lin 45x45 \u00d7 2").wait_for()
        await page.get_by_text("Livraison offerte dès 60 € jusqu'à dimanche.").wait_for()
        assert await page.get_by_text("Pour aller avec votre commande").count() == 0
        chat_link = page.get_by_role("link", name="Choisir une solution")
        await chat_link.click()
        await page.wait_for_url("**/c/**")
    finally:
        await context.close()


async def test_pickup_point_block_and_the_calendar_file(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer
) -> None:
    pickup = story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None, pickup=True)
    await chat.learn(producer, [pickup])
    point = pickup.state.delivery.pickup_point
    assert point is not None
    assert pickup.state.pickup_hold_deadline is not None
    context = await new_context(browser)
    page = await context.new_page()
    try:
        await page.goto(await tracking_url(chat, pickup))
        block = page.locator("section", has=page.get_by_role("heading", name="Point de retrait"))
        await block.get_by_text(point.name).wait_for()
        await block.get_by_text("4 place du Marché, 44000 Nantes").wait_for()
        await block.get_by_text(point.opening_hours or "").wait_for()
        await block.get_by_text("À retirer avant le").wait_for()
        map_link = await block.get_by_role("link", name="Voir sur une carte").get_attribute("href")
        assert map_link is not None
        assert map_link.startswith("https://www.openstreetmap.org/search?query=4+place+du+March")
        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="Ajouter à mon agenda").click()
        download = await downloading.value
        assert download.suggested_filename == "order-10467.ics"
        saved = Path(await download.path())
        text = (await asyncio.to_thread(saved.read_bytes)).decode("utf-8")
    finally:
        await context.close()
    event = parse_ics(text)
    deadline = pickup.state.pickup_hold_deadline.astimezone(
        ZoneInfo(pickup.state.customer.time_zone)
    )
    assert event["DTSTART;VALUE=DATE"] == f"{deadline:%Y%m%d}"
    assert event["SUMMARY"] == f"Retirer la commande #10467 à {point.name}"
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        path = link(
            merchant_id=MERCHANT, purpose=LinkPurpose.TRACKING, subject=pickup.state.shipment_id
        )
        response = await client.get(path + "/calendar.ics")
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="order-10467.ics"'


async def test_the_lookup_finds_the_order_and_answers_wrong_ones_alike(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer
) -> None:
    one = story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None)
    order = f"#L{uuid.uuid4().hex[:8].upper()}"
    one = with_state(one, order_number=order)
    await chat.learn(producer, [one])
    context = await new_context(browser, js=False)
    page = await context.new_page()
    try:
        answers = []
        for number, proof in (
            (order, "nobody@example.fr"),
            (f"#Z{uuid.uuid4().hex[:8]}", "camille.durand@example.fr"),
        ):
            await page.goto(f"{chat.base_url}/track/{MERCHANT}")
            await page.get_by_label("Numéro de commande").fill(number)
            await page.get_by_label("Adresse e-mail ou code postal").fill(proof)
            response_waiter = page.expect_response(lambda r: r.request.method == "POST")
            async with response_waiter as waiting:
                await page.get_by_role("button", name="Suivre ma commande").click()
            response = await waiting.value
            answers.append((response.status, await page.locator("main").inner_text()))
        assert answers[0][0] == answers[1][0] == 404
        assert answers[0][1] == answers[1][1]
        assert "Aucune commande ne correspond" in answers[0][1]

        await page.goto(f"{chat.base_url}/track/{MERCHANT}")
        await page.get_by_label("Numéro de commande").fill(order.removeprefix("#").lower())
        await page.get_by_label("Adresse e-mail ou code postal").fill("69 003")
        await page.get_by_role("button", name="Suivre ma commande").click()
        await page.wait_for_url("**/t/**")
        await page.get_by_role("heading", name="Où en est ma commande ?").wait_for()
        await page.get_by_text(order).first.wait_for()
    finally:
        await context.close()


async def test_the_lookup_is_rate_limited_per_order_and_per_client(chat: RunningChat) -> None:
    order = f"#R{uuid.uuid4().hex[:8]}"
    form = {"order": order, "proof": "someone@example.fr"}
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        statuses = [
            (
                await client.post(
                    f"/track/{MERCHANT}", data=form, headers={"X-Forwarded-For": client_ip()}
                )
            ).status_code
            for _ in range(5)
        ]
        assert statuses == [404] * 5
        limited = await client.post(
            f"/track/{MERCHANT}", data=form, headers={"X-Forwarded-For": client_ip()}
        )
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 900
        assert "Trop de tentatives" in limited.text

        one_client = {"X-Forwarded-For": client_ip()}
        other_orders = [
            (
                await client.post(
                    f"/track/{MERCHANT}",
                    data={"order": f"#C{index}-{uuid.uuid4().hex[:6]}", "proof": "75001"},
                    headers=one_client,
                )
            ).status_code
            for index in range(31)
        ]
        assert other_orders[:30] == [404] * 30
        assert other_orders[30] == 429


async def test_a_refused_lookup_names_its_fields(chat: RunningChat) -> None:
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        response = await client.post(
            f"/track/{MERCHANT}?lang=en",
            data={"order": "", "proof": "x\u0007y"},
            headers={"X-Forwarded-For": client_ip()},
        )
        unknown = await client.get("/track/no-such-merchant")
    assert response.status_code == 422
    assert 'id="err-order"' in response.text
    assert 'id="err-proof"' in response.text
    assert "This field is required." in response.text
    assert unknown.status_code == 404


def route_requests(
    chat_path: str, survey_path: str, tracking_path: str
) -> list[tuple[str, str, bool]]:
    """Every route of the chat's router: (method, path, embeddable)."""
    return [
        ("GET", "/static/chat/chat.css", False),
        ("GET", "/static/chat/chat.js", False),
        ("GET", chat_path, False),
        ("POST", chat_path, False),
        ("GET", survey_path, False),
        ("POST", survey_path, False),
        ("GET", tracking_path, True),
        ("GET", tracking_path + "/calendar.ics", False),
        ("GET", f"/track/{MERCHANT}", True),
        ("POST", f"/track/{MERCHANT}", True),
        ("GET", "/c/not-a-valid-token", False),
        ("GET", "/track/no-such-merchant", False),
    ]


COVERED_ROUTES = {
    ("GET", "/static/chat/{name}"),
    ("GET", "/c/{token}"),
    ("POST", "/c/{token}"),
    ("GET", "/s/{token}"),
    ("POST", "/s/{token}"),
    ("GET", "/t/{token}"),
    ("GET", "/t/{token}/calendar.ics"),
    ("GET", "/track/{merchant_id}"),
    ("POST", "/track/{merchant_id}"),
}


def test_the_header_test_covers_every_route_of_the_chat() -> None:
    router = build_router(cast(CustomerPages, None))
    declared = {
        (method, route.path)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert declared == COVERED_ROUTES


async def test_every_route_carries_the_security_headers(
    chat: RunningChat, producer: AIOKafkaProducer
) -> None:
    one = story(merchant_id=MERCHANT, shipment_id=shipment_id())
    delivered = story(
        merchant_id=OTHER, shipment_id=shipment_id(), anomaly_type=None, delivered=True
    )
    await chat.learn(producer, [one, delivered])
    assert one.anomaly is not None
    chat_path = link(
        merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id)
    )
    survey_path = link(
        merchant_id=OTHER, purpose=LinkPurpose.SURVEY, subject=delivered.state.shipment_id
    )
    tracking_path = link(
        merchant_id=MERCHANT, purpose=LinkPurpose.TRACKING, subject=one.state.shipment_id
    )
    async with httpx.AsyncClient(base_url=chat.base_url) as client:
        await chat.wait_until_known(client, survey_path)
        for method, path, embeddable in route_requests(chat_path, survey_path, tracking_path):
            response = await client.request(
                method,
                path,
                data={"order": "1", "proof": "1"} if method == "POST" else None,
                headers={"X-Forwarded-For": client_ip()},
            )
            where = f"{method} {path[:20]} -> {response.status_code}"
            headers = response.headers
            policy = headers["content-security-policy"]
            assert "default-src 'self'" in policy, where
            assert "script-src 'self';" in policy, where
            assert "unsafe-inline" not in policy, where
            assert headers["x-content-type-options"] == "nosniff", where
            assert headers["referrer-policy"] == "no-referrer", where
            if path.startswith("/static/"):
                assert headers["cache-control"].startswith("public"), where
            else:
                assert headers["cache-control"] == "no-store", where
            if embeddable:
                assert f"frame-ancestors {EMBEDDER}" in policy, where
                assert "x-frame-options" not in headers, where
            else:
                assert "frame-ancestors 'none'" in policy, where
                assert headers["x-frame-options"] == "DENY", where


async def test_no_serious_accessibility_violation_on_any_page(
    chat: RunningChat, browser: Browser, producer: AIOKafkaProducer
) -> None:
    one = story(merchant_id=MERCHANT, shipment_id=shipment_id())
    pickup = story(merchant_id=MERCHANT, shipment_id=shipment_id(), anomaly_type=None, pickup=True)
    delivered = story(
        merchant_id=OTHER,
        shipment_id=shipment_id(),
        anomaly_type=None,
        delivered=True,
        locale="en-GB",
    )
    await chat.learn(producer, [one, pickup, delivered])
    assert one.anomaly is not None
    pages = {
        "chat": link(
            merchant_id=MERCHANT, purpose=LinkPurpose.CHAT, subject=str(one.anomaly.anomaly_id)
        ),
        "tracking": link(
            merchant_id=MERCHANT, purpose=LinkPurpose.TRACKING, subject=one.state.shipment_id
        ),
        "tracking-pickup": link(
            merchant_id=MERCHANT, purpose=LinkPurpose.TRACKING, subject=pickup.state.shipment_id
        ),
        "survey": link(
            merchant_id=OTHER, purpose=LinkPurpose.SURVEY, subject=delivered.state.shipment_id
        ),
        "lookup": f"/track/{MERCHANT}",
        "lookup-en": f"/track/{OTHER}?lang=en",
    }
    context = await new_context(browser)
    page = await context.new_page()
    found: dict[str, str] = {}
    try:
        async with httpx.AsyncClient(base_url=chat.base_url) as client:
            await chat.wait_until_known(client, pages["survey"])
        for name, path in pages.items():
            await page.goto(chat.base_url + path)
            if problems := await violations(page):
                found[name] = describe(problems)
        await page.goto(chat.base_url + pages["lookup"])
        await page.get_by_role("button", name="Suivre ma commande").click()
        await page.get_by_text("Réponse à vérifier").wait_for()
        if problems := await violations(page):
            found["lookup-errors"] = describe(problems)
    finally:
        await context.close()
    assert not found, found
