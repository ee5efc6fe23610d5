"""Real servers for the notifier's tests: SMTP (aiosmtpd), an SMS provider, PostgreSQL.

- `smtp`: an aiosmtpd server on a free loopback port, private to the test, that
  keeps what it receives; `fail_next` makes it answer DATA with given replies, and
  any recipient at bounce.example is refused with 550;
- `sms_provider`: an HTTP server (uvicorn) speaking Twilio's Messages API shape,
  checking basic auth; the number +15005550001 is invalid (code 21211), as in
  Twilio's test credentials;
- `harness`: a migrated schema, a pool, the notifier's consumers and dispatcher
  built by the production wiring helpers with a ManualClock.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from uuid import uuid4

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from relais_contracts.envelope import Event
from relais_contracts.topics import notifications
from relais_notifier.bootstrap import (
    MIGRATIONS_DIR,
    build_dispatcher,
    load_merchant_directory,
    make_links,
)
from relais_notifier.handlers import Notifier, UnsubscribeContext, build_router
from relais_notifier.settings import NotifierSettings
from relais_notifier.texts.rendering import Renderer
from relais_runtime.clock import ManualClock
from relais_runtime.consumer import MessageContext, claim_event
from relais_runtime.db import create_pool
from relais_runtime.http import EmbeddedServer, build_http_app, make_server
from relais_runtime.migrations import migrate
from tests.conftest import REPO_ROOT, Infrastructure, drop_schemas, free_port

MERCHANTS_DIR = Path(REPO_ROOT) / "deploy" / "merchants"
TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "test-only-token"
INVALID_NUMBER = "+15005550001"


async def serve(server: EmbeddedServer) -> asyncio.Task[None]:
    """Start a uvicorn server in this loop; return once it accepts connections."""
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            return task
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    raise RuntimeError("the HTTP server did not start")


@dataclass
class SmtpRecorder:
    messages: list[EmailMessage] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)
    """The client address (host, port) of each message accepted: one per connection."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@bounce.example"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next:
            return self.fail_next.pop(0)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.peers.append(session.peer)
        return "250 OK queued"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]


@dataclass
class SmtpServer:
    port: int
    recorder: SmtpRecorder


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port=port, recorder=recorder)
    finally:
        controller.stop()


@dataclass
class SmsProvider:
    base_url: str
    received: list[dict[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)


def twilio_app(provider: SmsProvider) -> FastAPI:
    app = FastAPI()

    @app.post("/2010-04-01/Accounts/{sid}/Messages.json")
    async def create_message(sid: str, request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        expected = httpx.BasicAuth(TWILIO_SID, TWILIO_TOKEN)._auth_header
        if sid != TWILIO_SID or auth != expected:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        if provider.fail_next:
            status = provider.fail_next.pop(0)
            return JSONResponse({"code": 20500, "message": "Error", "status": status}, status)
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        if form.get("To") == INVALID_NUMBER:
            return JSONResponse(
                {"code": 21211, "message": "The 'To' number is not valid.", "status": 400}, 400
            )
        provider.received.append(form)
        body = form.get("Body", "")
        return JSONResponse(
            {
                "sid": f"SM{uuid4().hex}",
                "status": "queued",
                "num_segments": str(1 + len(body.encode("utf-16-le")) // 2 // 68),
                "to": form.get("To"),
            },
            201,
        )

    return app


@pytest.fixture(scope="module")
async def sms_provider() -> AsyncIterator[SmsProvider]:
    port = free_port()
    provider = SmsProvider(base_url=f"http://127.0.0.1:{port}")
    server = make_server(twilio_app(provider), host="127.0.0.1", port=port)
    task = await serve(server)
    try:
        yield provider
    finally:
        server.should_exit = True
        await task


@dataclass
class Harness:
    settings: NotifierSettings
    pool: asyncpg.Pool
    clock: ManualClock
    notifier: Notifier
    dispatcher: Any
    links: Any
    http: str

    async def consume(self, event: Event, *, group: str = "notifier.test") -> bool:
        """What the consumer policy does: claim the event id, run the handler, commit."""
        handler = {
            "ShipmentStateChanged": self.notifier.on_shipment_state,
            "ActionCompleted": self.notifier.on_action_result,
            "ActionFailed": self.notifier.on_action_result,
            "CampaignMessageRequested": self.notifier.on_notification_command,
            "MessageResendRequested": self.notifier.on_notification_command,
        }.get(event.event_type, self.notifier.on_anomaly)
        async with self.pool.acquire() as connection, connection.transaction():
            if not await claim_event(connection, consumer_group=group, event_id=event.event_id):
                return False
            await handler(
                event,
                MessageContext(connection=connection, topic="t", partition=0, offset=0, attempt=1),
            )
        return True

    async def outcomes(
        self, shipment_id: str | None = None
    ) -> list[notifications.NotificationEvent]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT value FROM outbox WHERE topic = $1 ORDER BY id", notifications.TOPIC.name
            )
        events = [notifications.TOPIC.decode(row["value"]) for row in rows]
        return [
            event  # type: ignore[misc]
            for event in events
            if shipment_id is None or getattr(event, "shipment_id", None) == shipment_id
        ]

    async def row(self, key: str) -> asyncpg.Record | None:
        async with self.pool.acquire() as connection:
            return await connection.fetchrow(
                "SELECT * FROM notifications WHERE idempotency_key = $1", key
            )


def notifier_settings(
    infrastructure: Infrastructure, *, smtp_port: int, sms_base_url: str, http_port: int
) -> NotifierSettings:
    return NotifierSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        http_port=http_port,
        merchants_dir=MERCHANTS_DIR,
        customer_link_secrets=[secrets.token_urlsafe(32)],  # generated per run: test-only
        opt_out_pepper=secrets.token_urlsafe(32),
        public_chat_base_url="https://chat.test",
        public_notifier_base_url=f"http://127.0.0.1:{http_port}",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        sms_twilio_base_url=sms_base_url,
        sms_twilio_account_sid=TWILIO_SID,
        sms_twilio_auth_token=TWILIO_TOKEN,
        send_backoff_initial_s=0.01,
        send_backoff_max_s=0.05,
        sweep_interval_s=0.2,
    )


@pytest.fixture(scope="module")
async def harness(
    infrastructure: Infrastructure, smtp: SmtpServer, sms_provider: SmsProvider
) -> AsyncIterator[Harness]:
    schema = f"test_notifier_{uuid4().hex[:10]}"
    port = free_port()
    settings = notifier_settings(
        infrastructure, smtp_port=smtp.port, sms_base_url=sms_provider.base_url, http_port=port
    )
    await migrate(database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS_DIR)
    pool = await create_pool(database_url=settings.database_url, schema=schema, max_size=4)
    clock = ManualClock(datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    merchants = load_merchant_directory(settings.merchants_dir)
    renderer = Renderer()
    links = make_links(settings)
    client = httpx.AsyncClient(timeout=5)
    dispatcher = build_dispatcher(
        settings,
        pool=pool,
        clock=clock,
        merchants=merchants,
        renderer=renderer,
        links=links,
        client=client,
    )
    app = build_http_app(
        service="notifier",
        readiness={},
        routers=[
            build_router(
                UnsubscribeContext(
                    pool=pool, merchants=merchants, links=links, renderer=renderer, clock=clock
                )
            )
        ],
    )
    server = make_server(app, host="127.0.0.1", port=port)
    task = await serve(server)
    try:
        yield Harness(
            settings=settings,
            pool=pool,
            clock=clock,
            notifier=Notifier(merchants=merchants, clock=clock),
            dispatcher=dispatcher,
            links=links,
            http=f"http://127.0.0.1:{port}",
        )
    finally:
        server.should_exit = True
        await task
        await client.aclose()
        await pool.close()
        await drop_schemas(settings.database_url, [schema])
