"""The copy of a sent message (issue 15, point 2) on real PostgreSQL and SMTP: the
shipping confirmation leaves with the customer's signed tracking link and unsubscribe
token; the copy the notifier keeps has the same subject and words, and none of those
links; the internal route serves it to the merchant only, over a real socket; erasing
the shipment sets it to NULL, and the route then answers 404."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from relais_contracts.catalogue import Milestone
from relais_contracts.topics.notifications import NotificationSent
from relais_notifier.handlers import UnsubscribeContext
from relais_notifier.preview_routes import build_preview_router
from relais_notifier.texts.rendering import Renderer
from relais_runtime.consumer import MessageContext
from relais_runtime.http import build_http_app, make_server
from relais_runtime.merchants import merchants_of
from tests.conftest import free_port
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import MERCHANTS_DIR, Harness, SmtpServer, serve
from tests.integration.notifier.test_shipping_confirmation import parts

pytestmark = pytest.mark.integration

MERCHANT = "velocity-sports"
SIGNED = re.compile(r"https?://[^\s\"'<>]+/(?:c|t|s|u)/(?P<token>[A-Za-z0-9._~-]{16,})")


@pytest.fixture
async def internal_url(harness: Harness) -> AsyncIterator[str]:
    """The notifier's internal routes, served over HTTP on the harness's database."""
    context = UnsubscribeContext(
        pool=harness.pool,
        merchants=merchants_of(MERCHANTS_DIR),
        links=harness.links,
        renderer=Renderer(),
        clock=harness.clock,
    )
    app = build_http_app(service="notifier", readiness={}, routers=[build_preview_router(context)])
    port = free_port()
    server = make_server(app, host="127.0.0.1", port=port)
    task = await serve(server)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def signed_parts(*texts: str) -> set[str]:
    """Every signed URL in the texts, and its token alone."""
    found: set[str] = set()
    for text in texts:
        for match in SIGNED.finditer(text):
            found |= {match.group(0), match.group("token")}
    return found


async def erase(harness: Harness, shipment_id: str) -> None:
    """What the shipment-state tombstone does, in its own transaction."""
    async with harness.pool.acquire() as connection, connection.transaction():
        await harness.notifier.on_shipment_erased(
            f"{MERCHANT}/{shipment_id}".encode(),
            MessageContext(connection=connection, topic="t", partition=0, offset=0, attempt=1),
        )


async def test_a_sent_emails_copy_has_no_signed_link_is_served_and_is_erased(
    harness: Harness, smtp: SmtpServer, internal_url: str
) -> None:
    unique = uuid.uuid4().hex[:8]
    shipment_id = f"COPY-{unique}"
    email = f"copy-{unique}@example.com"
    assert await harness.consume(
        factories.state(merchant_id=MERCHANT, shipment_id=shipment_id, email=email)
    )
    assert await harness.consume(
        factories.milestone(merchant_id=MERCHANT, shipment_id=shipment_id, which=Milestone.SHIPPED)
    )
    await harness.dispatcher.dispatch_due()

    [message] = smtp.recorder.to(email)
    text, html = parts(message)
    secrets = signed_parts(text, html, str(message["List-Unsubscribe"]))
    assert any("/u/" in found for found in secrets), "the email carries an unsubscribe link"
    assert any("/t/" in found for found in secrets), "and the signed tracking link"
    [sent] = [e for e in await harness.outcomes(shipment_id) if isinstance(e, NotificationSent)]

    async with harness.pool.acquire() as connection:
        stored = await connection.fetchval(
            "SELECT sent_copy::text FROM notifications WHERE notification_id = $1",
            sent.notification_id,
        )
    assert stored is not None
    assert [found for found in secrets if found in stored] == []
    assert "chat.test" not in stored
    assert harness.http.removeprefix("http://") not in stored

    async with httpx.AsyncClient(base_url=internal_url, timeout=5) as client:
        answer = await client.get(f"/internal/sent/{MERCHANT}/{sent.notification_id}")
        assert answer.status_code == 200, answer.text
        copy = answer.json()
        assert copy["channel"] == "email"
        assert copy["subject"] == message["Subject"]
        assert copy["body"] is None
        assert copy["sent_at"] is not None
        assert 'href="#"' in copy["html"]
        assert "<a " in copy["html"], "the message keeps its shape"
        assert "Camille" in copy["text"], "and its words"
        assert "[link]" in copy["text"]
        assert [found for found in secrets if found in answer.text] == []
        other = await client.get(f"/internal/sent/maison-lumiere/{sent.notification_id}")
        assert other.status_code == 404
        unknown = await client.get(f"/internal/sent/{MERCHANT}/{uuid.uuid4()}")
        assert unknown.status_code == 404
        malformed = await client.get(f"/internal/sent/{MERCHANT}/not-an-id")
        assert malformed.status_code == 422

        await erase(harness, shipment_id)
        async with harness.pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT status, sent_copy FROM notifications WHERE notification_id = $1",
                sent.notification_id,
            )
        assert row is not None
        assert (row["status"], row["sent_copy"]) == ("sent", None)
        gone = await client.get(f"/internal/sent/{MERCHANT}/{sent.notification_id}")
        assert gone.status_code == 404
