"""What `relais lighthouse` and `relais screenshots` run (relais_cli.pages_cmd holds the
commands and imports this on use: it loads the whole chat service).

Both start their own chat service in this process, on the local infrastructure
(`relais infra up`: Kafka and PostgreSQL), in a PostgreSQL schema of its own that is
dropped at the end, with a link secret made for the run. They write a small showcase
straight into that schema (a late parcel with an open anomaly, a parcel waiting at a
pickup point, a delivered one; in French and in English for the demo merchant
maison-lumiere) and open the real pages: chat, tracking, lookup and survey. Nothing
depends on a running `relais up` or `relais demo`, and neither is disturbed (the
pages' own events, a conversation started and a tracking page viewed, go to
relais.conversations.v1 under the showcase's shipment ids, as any visit's would).

- `relais lighthouse` runs the lighthouse npm package (`npx --yes lighthouse@12`,
  mobile profile: its default form factor, screen emulation and simulated throttling)
  with Debian's Chromium (CHROME_PATH, as the browser tests), prints the accessibility,
  performance, best-practices and SEO scores of each page next to the target, and
  writes each report as JSON and HTML under artifacts/lighthouse/;
- `relais screenshots` writes a PNG of each page in both languages, and of the late
  parcel's tracking page in German and Spanish for velocity-sports (which serves six
  languages), at a phone's width, to docs/screenshots/chat/ (Playwright, from the
  development environment).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from relais_chat import repository
from relais_chat.bootstrap import build_spec
from relais_chat.domain.access import make_signer
from relais_chat.settings import ChatSettings
from relais_cli.infra.settings import InfraSettings
from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType, Severity
from relais_contracts.topics import shipment_state, tracking_events
from relais_contracts.topics.anomalies import AnomalyDetected, Evidence
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_contracts.tracking import (
    DeliveryEstimate,
    Incident,
    IncidentReason,
    Substatus,
    TrackingStatus,
)
from relais_runtime.links import LinkPurpose
from relais_runtime.service import RunningService

console = Console(stderr=True)
MERCHANT = "maison-lumiere"
LANGUAGES = {"fr": "fr-FR", "en": "en-GB"}
EUROPE_MERCHANT = "velocity-sports"
EUROPE_LANGUAGES = {"de": "de-DE", "es": "es-ES"}
"""The tracking page also pictured in these, for a merchant that serves them."""
TARGET = 95
CATEGORIES = ("accessibility", "performance", "best-practices", "seo")
LIGHTHOUSE = "lighthouse@12"
CHROMIUM_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"
PHONE_WIDTH, PHONE_HEIGHT = 390, 844


@dataclass(frozen=True)
class Showcase:
    base_url: str
    pages: dict[str, dict[str, str]]
    """Page name -> language -> path."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _example(topic: Any, name: str) -> Any:
    return topic.decode((topic.examples_dir() / name).read_bytes())


def _states(language: str, locale: str, now: datetime) -> dict[str, ShipmentStateChanged]:
    """The showcase's three parcels, for a customer speaking `locale`."""
    home: ShipmentStateChanged = _example(
        shipment_state.TOPIC, "ShipmentStateChanged-colissimo-out-for-delivery.json"
    )
    pickup: ShipmentStateChanged = _example(
        shipment_state.TOPIC, "ShipmentStateChanged-mondial-relay-ready-for-pickup.json"
    )
    today = now.date()

    def own(state: ShipmentStateChanged, name: str, **changes: Any) -> ShipmentStateChanged:
        shipment = f"SHOW-{language}-{name}"
        customer = state.customer.model_copy(update={"locale": locale})
        return state.model_copy(
            update={
                "merchant_id": MERCHANT,
                "shipment_id": shipment,
                "correlation_id": shipment,
                "occurred_at": now - timedelta(hours=3),
                "customer": customer,
                **changes,
            }
        )

    return {
        "late": own(
            home,
            "late",
            status=TrackingStatus.EXCEPTION,
            substatus=Substatus.DELAYED_WEATHER,
            incident=Incident.of(IncidentReason.WEATHER_DELAY),
            promised_delivery_by=today,
            estimated_delivery=DeliveryEstimate(day=_weekday(today + timedelta(days=2))),
        ),
        "pickup": own(
            pickup,
            "pickup",
            status_since=now - timedelta(hours=5),
            pickup_hold_deadline=now + timedelta(days=9),
            promised_delivery_by=today,
        ),
        "delivered": own(
            home,
            "delivered",
            status=TrackingStatus.DELIVERED,
            substatus=Substatus.DELIVERED_TO_RECIPIENT,
            delivered_at=now - timedelta(hours=2),
            final=True,
        ),
    }


def _weekday(day: date) -> date:
    return day + timedelta(days=1) if day.isoweekday() == 7 else day


def _events(state: ShipmentStateChanged, now: datetime) -> list[TrackingEventRecorded]:
    example: TrackingEventRecorded = _example(
        tracking_events.TOPIC, "TrackingEventRecorded-colissimo-out-for-delivery.json"
    )
    steps = [
        (now - timedelta(days=2), TrackingStatus.IN_TRANSIT, Substatus.ACCEPTED_BY_CARRIER),
        (now - timedelta(days=1), TrackingStatus.IN_TRANSIT, Substatus.ARRIVED_AT_FACILITY),
        (now - timedelta(hours=3), state.status, state.substatus),
    ]
    return [
        example.model_copy(
            update={
                "event_id": ids.derived_id("showcase-event", state.shipment_id, str(index)),
                "merchant_id": state.merchant_id,
                "shipment_id": state.shipment_id,
                "correlation_id": state.shipment_id,
                "order_id": state.order_id,
                "occurred_at": moment,
                "status": status,
                "substatus": substatus,
            }
        )
        for index, (moment, status, substatus) in enumerate(steps)
    ]


def _anomaly(
    state: ShipmentStateChanged, events: list[TrackingEventRecorded], now: datetime
) -> AnomalyDetected:
    anomaly_id = ids.anomaly_id(MERCHANT, state.shipment_id, AnomalyType.DELIVERY_LATE.value)
    return AnomalyDetected(
        event_id=anomaly_id,
        occurred_at=now - timedelta(hours=1),
        merchant_id=MERCHANT,
        correlation_id=state.shipment_id,
        shipment_id=state.shipment_id,
        anomaly_id=anomaly_id,
        anomaly_type=AnomalyType.DELIVERY_LATE,
        severity=Severity.WARNING,
        evidence=Evidence(
            tracking_event_ids=(events[-1].event_id,),
            status=state.status,
            substatus=state.substatus,
        ),
        shipment=state.context(),
    )


async def _seed(connection: asyncpg.Connection, now: datetime) -> dict[str, dict[str, str]]:
    """Write the showcase into the chat's schema; returns each page's subject by language."""
    subjects: dict[str, dict[str, str]] = {"chat": {}, "tracking": {}, "survey": {}}
    for language, locale in LANGUAGES.items():
        states = _states(language, locale, now)
        for state in states.values():
            await repository.update_shipment(connection, state=state)
            for event in _events(state, now):
                await repository.create_tracking_event(connection, event=event)
        anomaly = _anomaly(states["late"], _events(states["late"], now), now)
        await repository.create_anomaly(connection, detected=anomaly)
        subjects["chat"][language] = str(anomaly.anomaly_id)
        subjects["tracking"][language] = states["pickup"].shipment_id
        subjects["survey"][language] = states["delivered"].shipment_id
        subjects.setdefault("tracking-late", {})[language] = states["late"].shipment_id
    for language, locale in EUROPE_LANGUAGES.items():
        late = _states(language, locale, now)["late"]
        late = late.model_copy(update={"merchant_id": EUROPE_MERCHANT})
        await repository.update_shipment(connection, state=late)
        for event in _events(late, now):
            await repository.create_tracking_event(connection, event=event)
        subjects.setdefault("tracking-europe", {})[language] = late.shipment_id
    return subjects


@asynccontextmanager
async def showcase_stack() -> AsyncIterator[Showcase]:
    """A chat service on the local infrastructure with the showcase in its own schema."""
    infra = InfraSettings()
    unique = secrets.token_hex(4)
    schema = f"showcase_{unique}"
    link_secret = secrets.token_urlsafe(32)
    settings = ChatSettings(
        kafka_bootstrap=infra.kafka_bootstrap,
        database_url=infra.database_url,
        http_port=_free_port(),
        consumer_group_prefix=f"showcase-{unique}.",
        consumer_new_groups_start="now",
        customer_link_secrets=[link_secret],
        merchants_dir=Path.cwd() / "deploy" / "merchants",
        outbox_poll_interval_s=0.2,
    )
    service = RunningService(replace(build_spec(), schema=schema), settings)
    await service.start()
    try:
        connection = await asyncpg.connect(
            infra.database_url, server_settings={"search_path": schema}
        )
        try:
            subjects = await _seed(connection, datetime.now(UTC))
        finally:
            await connection.close()
        yield Showcase(
            base_url=f"http://127.0.0.1:{settings.http_port}",
            pages=_paths(subjects, link_secret),
        )
    finally:
        await service.stop()
        connection = await asyncpg.connect(infra.database_url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


def _paths(subjects: dict[str, dict[str, str]], link_secret: str) -> dict[str, dict[str, str]]:
    signer = make_signer([link_secret])
    prefixes = {"chat": ("c", LinkPurpose.CHAT), "survey": ("s", LinkPurpose.SURVEY)}
    pages: dict[str, dict[str, str]] = {}
    for page, by_language in subjects.items():
        prefix, purpose = prefixes.get(page, ("t", LinkPurpose.TRACKING))
        pages[page] = {
            language: "/{}/{}".format(
                prefix,
                signer.sign(
                    merchant_id=EUROPE_MERCHANT if page == "tracking-europe" else MERCHANT,
                    purpose=purpose,
                    subject=subject,
                    issued_at=datetime.now(UTC),
                ),
            )
            for language, subject in by_language.items()
        }
    pages["lookup"] = {language: f"/track/{MERCHANT}?lang={language}" for language in LANGUAGES}
    return pages


# relais lighthouse


def chromium_path() -> str:
    found = os.environ.get("CHROME_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        console.print("no Chromium: install Debian's `chromium` package or set CHROME_PATH")
        raise typer.Exit(2)
    return found


async def _lighthouse(url: str, report: Path, chrome: str) -> dict[str, int]:
    """One Lighthouse run; a run that fails to record its trace (Lighthouse's NO_NAVSTART,
    NO_FCP, seen now and then with headless Chromium) is tried again, twice at most."""
    for attempt in range(3):
        scores = await _lighthouse_once(url, report, chrome, last=attempt == 2)
        if scores is not None:
            return scores
        console.print("lighthouse could not record this run: trying again")
    raise typer.Exit(1)


async def _lighthouse_once(
    url: str, report: Path, chrome: str, *, last: bool
) -> dict[str, int] | None:
    process = await asyncio.create_subprocess_exec(
        "npx",
        "--yes",
        LIGHTHOUSE,
        url,
        "--output=json",
        "--output=html",
        f"--output-path={report}",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROMIUM_FLAGS}",
        "--quiet",
        env={**os.environ, "CHROME_PATH": chrome},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        if last:
            console.print(errors.decode(errors="replace")[-2000:], markup=False)
        return None
    result = json.loads(report.with_suffix(".report.json").read_text(encoding="utf-8"))
    return {name: round((result["categories"][name]["score"] or 0) * 100) for name in CATEGORIES}


LIGHTHOUSE_PAGES = {"chat": "fr", "tracking": "fr", "tracking-late": "en", "lookup": "fr"}
LIGHTHOUSE_PAGES |= {"survey": "en"}


async def _measure(out: Path, chrome: str) -> dict[str, dict[str, int]]:
    scores: dict[str, dict[str, int]] = {}
    async with showcase_stack() as showcase:
        for page, language in LIGHTHOUSE_PAGES.items():
            url = showcase.base_url + showcase.pages[page][language]
            console.print(f"lighthouse: {page} ({language})")
            scores[page] = await _lighthouse(url, out / page, chrome)
            console.print(f"  {page}: {scores[page]}")
    return scores


def run_lighthouse(out: Path) -> None:
    """Measure, print the scores against the target; exit 1 below it (SEO aside)."""
    chrome = chromium_path()
    out.mkdir(parents=True, exist_ok=True)
    scores = asyncio.run(_measure(out, chrome))
    table = Table(title=f"Lighthouse, mobile (target {TARGET})")
    table.add_column("page")
    for name in CATEGORIES:
        table.add_column(name, justify="right")
    failed = False
    for page, values in scores.items():
        cells = []
        for name in CATEGORIES:
            below = values[name] < TARGET and name != "seo"
            failed |= below
            cells.append(f"[red]{values[name]}[/red]" if below else str(values[name]))
        table.add_row(page, *cells)
    Console().print(table)
    console.print(f"reports: {out}/<page>.report.html and .report.json")
    if failed:
        raise typer.Exit(1)


# relais screenshots


async def _shoot(out: Path, chrome: str) -> list[Path]:
    from playwright.async_api import async_playwright  # the development environment's

    written = []
    async with showcase_stack() as showcase, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chrome, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for language in LANGUAGES:
                context = await browser.new_context(
                    viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
                    locale=LANGUAGES[language],
                )
                page = await context.new_page()
                for name in ("tracking", "tracking-late", "lookup", "chat", "survey"):
                    await page.goto(showcase.base_url + showcase.pages[name][language])
                    path = out / f"{name}-{language}.png"
                    await page.screenshot(path=str(path), full_page=True, animations="disabled")
                    written.append(path)
                await context.close()
            for language, path_of in showcase.pages["tracking-europe"].items():
                context = await browser.new_context(
                    viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
                    locale=EUROPE_LANGUAGES[language],
                )
                page = await context.new_page()
                await page.goto(showcase.base_url + path_of)
                path = out / f"tracking-late-{language}.png"
                await page.screenshot(path=str(path), full_page=True, animations="disabled")
                written.append(path)
                await context.close()
        finally:
            await browser.close()
    return written


def run_screenshots(out: Path) -> None:
    chrome = chromium_path()
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(_shoot(out, chrome)):
        console.print(f"wrote {path}")
