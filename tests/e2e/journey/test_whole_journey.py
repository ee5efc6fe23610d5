"""The whole loop on the real stack, as a customer and a merchant live it.

Five real services (tracker, detector, notifier, chat, actions) in this process on one
clock, the real Kafka broker, PostgreSQL and SMTP catcher, a merchant's back office as
a local HTTP server that checks signatures, and Debian's headless Chromium. The test
only does what the outside world does: a merchant places an order over the order API,
a carrier posts signed scans, the customer reads the email and clicks, the merchant's
systems answer webhooks. Everything in between is the product.

Path 1 (Maison Lumière, French): order -> shipped -> in transit -> damaged -> email
with a chat link -> "send me a new one" -> signed, idempotent reship webhook (the back
office fails once, Relais retries with the same key, one effect) -> confirmation email
-> delivered -> survey email -> CSAT 5 recorded.
Path 2 (Velocity Sports, English): late parcel -> email -> "call me back" -> a callback
ticket reaches the merchant -> confirmation email.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from relais_cli.demo.story import Merchant, order_body
from relais_cli.infra.smtp import ReceivedMail
from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.conversations import (
    CallbackRequested,
    ResolutionChosen,
    SurveyAnswered,
)
from relais_contracts.topics.notifications import (
    NotificationFailed,
    NotificationSent,
    NotificationSuppressed,
)
from tests.e2e.journey.merchant import Received
from tests.e2e.journey.stack import Stack, later

pytestmark = pytest.mark.integration

MAISON_LUMIERE = Merchant(
    merchant_id="maison-lumiere", locale="fr-FR", time_zone="Europe/Paris", currency="EUR"
)
VELOCITY_SPORTS = Merchant(
    merchant_id="velocity-sports", locale="en-GB", time_zone="Europe/London", currency="GBP"
)
LINK = re.compile(r"https?://[^\s\"'<>]+/(?P<kind>[cts])/[A-Za-z0-9._~-]+")


def scan(
    stack: Stack, *, tracking_number: str, substatus: str, hours_ago: float, **extra: Any
) -> dict[str, Any]:
    """A carrier webhook payload (generic Relais format, docs/carriers.md) of one event."""
    event = {
        "occurred_at": later(stack.clock, hours=-hours_ago),
        "substatus": substatus,
        "description": substatus.replace("_", " ").capitalize(),
        "location": {"city": "Lyon", "postal_code": "69003", "country": "FR"},
        **extra,
    }
    return {"tracking_number": tracking_number, "carrier": "colissimo", "events": [event]}


async def place_order(
    stack: Stack, *, merchant: Merchant, name: str, value: str, promised_in_days: int
) -> dict[str, Any]:
    order_id = f"{stack.run}-{name}"
    now = stack.clock.now()
    body = order_body(
        merchant=merchant,
        order_id=order_id,
        tracking_number=f"JR{stack.run.upper()}{name.upper()}",
        carrier_name="colissimo",
        shipped=now - timedelta(hours=3),
        promised_by=now + timedelta(days=promised_in_days),
        city=("Lyon", "69003", "FR") if merchant is MAISON_LUMIERE else ("Leeds", "LS1 4DY", "GB"),
        first_name="Camille" if merchant is MAISON_LUMIERE else "Olivia",
        pickup=False,
        value=value,
    )
    await stack.place_order(merchant=merchant.merchant_id, body=body)
    return body


def link_in(mail: ReceivedMail, *, kind: str, stack: Stack) -> str:
    found = [m.group(0) for m in LINK.finditer(mail.text()) if m.group("kind") == kind]
    assert found, f"no /{kind}/ link in {mail.subject!r}"
    assert found[0].startswith(stack.urls["chat"] + f"/{kind}/"), found[0]
    return found[0]


def signature_verifies(received: Received, *, secret: str) -> bool:
    """The merchant's own check, as docs/webhooks.md tells them to write it."""
    parts = dict(part.split("=", 1) for part in received.signature.split(","))
    if abs(time.time() - int(parts["t"])) > 300:
        return False
    signed = parts["t"].encode() + b"." + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


async def open_page(browser: Browser, url: str, *, locale: str) -> Page:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale=locale)
    page = await context.new_page()
    response = await page.goto(url)
    assert response is not None
    assert response.status == 200, f"{url} answered {response.status}"
    return page


async def test_a_damaged_parcel_is_reshipped_then_delivered_and_rated(
    stack: Stack, browser: Browser
) -> None:
    body = await place_order(
        stack, merchant=MAISON_LUMIERE, name="reship", value="89.90", promised_in_days=3
    )
    shipment_id = body["parcels"][0]["shipment_id"]
    tracking_number = body["parcels"][0]["tracking_number"]
    email = body["customer"]["email"]
    merchant = stack.merchants[MAISON_LUMIERE.merchant_id]

    # The carrier takes the parcel: the customer is told it is on its way.
    for substatus, hours_ago in (("accepted_by_carrier", 2.5), ("departed_facility", 2.0)):
        await stack.carrier_scan(
            scan(stack, tracking_number=tracking_number, substatus=substatus, hours_ago=hours_ago)
        )
    shipped = await stack.inbox.next(to=email)
    assert "#" + body["order_id"] in shipped.subject
    link_in(shipped, kind="t", stack=stack)

    # Damaged in transit: the detector opens the anomaly, the notifier emails a chat link.
    await stack.carrier_scan(
        scan(
            stack,
            tracking_number=tracking_number,
            substatus="damaged",
            hours_ago=0.5,
            incident={"reason": "carrier_damaged_parcel"},
        )
    )
    [anomaly] = await stack.tap.wait_for(AnomalyDetected, shipment_id=shipment_id)
    assert anomaly.anomaly_type is AnomalyType.DAMAGED
    damaged = await stack.inbox.next(to=email)
    chat_link = link_in(damaged, kind="c", stack=stack)
    assert body["order_number"] in damaged.subject

    # The customer opens the link and asks for a new one, in French.
    page = await open_page(browser, chat_link, locale="fr-FR")
    await page.get_by_text("Salut Camille").wait_for()
    await page.get_by_role("button", name="M'en renvoyer un neuf").click()
    await page.get_by_text("C'est fait").wait_for()
    await page.context.close()
    [chosen] = await stack.tap.wait_for(ResolutionChosen, shipment_id=shipment_id)
    assert chosen.action is not None
    assert chosen.action.action.value == "reship"

    # The merchant's back office: failed once, retried with the same key, one reship.
    [completed] = await stack.tap.wait_for(ActionCompleted, shipment_id=shipment_id)
    requests = stack.merchant_systems.requests_for(shipment_id)
    assert [r.status for r in requests] == [503, 200]
    assert {r.idempotency_key for r in requests} == {str(completed.action_id)}
    assert all(signature_verifies(r, secret=merchant.webhook_secret) for r in requests)
    assert not any(signature_verifies(r, secret="not-the-secret") for r in requests)
    assert [r.json()["attempt"] for r in requests] == [1, 2]
    [effect] = stack.merchant_systems.effects_for(shipment_id)
    assert effect.action == "reship"
    assert completed.merchant_reference == effect.reference
    assert completed.attempts == 2

    # The action closes the anomaly, and the customer is told it is done.
    resolved = await stack.tap.wait_for(AnomalyResolved, shipment_id=shipment_id)
    assert resolved[0].reason is ResolutionReason.ACTION_COMPLETED
    confirmation = await stack.inbox.next(to=email)
    assert body["order_number"] in confirmation.subject
    link_in(confirmation, kind="c", stack=stack)

    # Delivered: the survey link arrives, the customer gives 5 stars.
    await stack.carrier_scan(
        scan(
            stack, tracking_number=tracking_number, substatus="delivered_to_recipient", hours_ago=0
        )
    )
    survey = await stack.inbox.next(to=email)
    survey_link = link_in(survey, kind="s", stack=stack)
    page = await open_page(browser, survey_link, locale="fr-FR")
    await page.locator("label.score").nth(4).click()
    await page.get_by_role("button", name="Envoyer").click()
    await page.get_by_text("★★★★★").wait_for()
    await page.context.close()

    [answered] = await stack.tap.wait_for(SurveyAnswered, shipment_id=shipment_id)
    assert answered.csat == 5
    milestones = stack.tap.of(ShipmentMilestoneReached, shipment_id=shipment_id)
    assert answered.milestone_id in {m.milestone_id for m in milestones}
    status = await stack.fetchval(
        "chat",
        "SELECT status FROM conversations WHERE shipment_id = $1 AND purpose = 'survey'",
        shipment_id,
    )
    assert status == "finished"

    # Four emails, each sent once; nothing suppressed or failed on the way.
    sent = await stack.tap.wait_for(NotificationSent, shipment_id=shipment_id, count=4)
    assert sorted(n.trigger.name for n in sent) == sorted(
        ["shipped", "damaged", "reship", "delivered"]
    )
    assert stack.tap.of(NotificationSuppressed, shipment_id=shipment_id) == []
    assert stack.tap.of(NotificationFailed, shipment_id=shipment_id) == []
    assert len(await stack.inbox.wait_for(to=email, count=4)) == 4


async def test_a_late_parcel_ends_with_a_callback_from_the_merchant(
    stack: Stack, browser: Browser
) -> None:
    body = await place_order(
        stack, merchant=VELOCITY_SPORTS, name="callback", value="129.00", promised_in_days=1
    )
    shipment_id = body["parcels"][0]["shipment_id"]
    tracking_number = body["parcels"][0]["tracking_number"]
    email = body["customer"]["email"]
    merchant = stack.merchants[VELOCITY_SPORTS.merchant_id]
    promised = body["promised_delivery_by"]

    await stack.carrier_scan(
        scan(stack, tracking_number=tracking_number, substatus="accepted_by_carrier", hours_ago=2)
    )
    # The carrier's new estimate is two days past the promise: late, right now.
    await stack.carrier_scan(
        scan(
            stack,
            tracking_number=tracking_number,
            substatus="delayed",
            hours_ago=0.5,
            incident={"reason": "carrier_transport_delay"},
            estimated_delivery={"day": (stack.clock.now() + timedelta(days=3)).date().isoformat()},
        )
    )
    [anomaly] = await stack.tap.wait_for(AnomalyDetected, shipment_id=shipment_id)
    assert anomaly.anomaly_type is AnomalyType.DELIVERY_LATE, promised
    # The shipped and the late emails are sent in either order.
    first, second = [await stack.inbox.next(to=email) for _ in range(2)]
    late = first if "/c/" in first.text() else second
    chat_link = link_in(late, kind="c", stack=stack)

    # The customer asks to be called back, in English.
    day = stack.clock.now().date() + timedelta(days=2)
    day = day + timedelta(days=1) if day.isoweekday() == 7 else day
    page = await open_page(browser, chat_link, locale="en-GB")
    await page.get_by_text("Hello Olivia").wait_for()
    await page.get_by_role("button", name="Call me back").click()
    await page.get_by_label("Phone number").fill("+44 7911 123456")
    await page.get_by_label("Day", exact=True).fill(day.isoformat())
    await page.get_by_label("Time of day").select_option("afternoon")
    await page.get_by_role("button", name="Send").click()
    await page.get_by_text("an adviser will call you back").wait_for()
    await page.context.close()
    [callback] = await stack.tap.wait_for(CallbackRequested, shipment_id=shipment_id)
    assert callback.phone == "+447911123456"

    # What the merchant's helpdesk receives: a signed callback ticket, done once.
    [completed] = await stack.tap.wait_for(ActionCompleted, shipment_id=shipment_id)
    [effect] = stack.merchant_systems.effects_for(shipment_id)
    assert effect.action == "callback_ticket"
    requests = stack.merchant_systems.requests_for(shipment_id)
    assert {r.idempotency_key for r in requests} == {str(completed.action_id)}
    assert all(signature_verifies(r, secret=merchant.webhook_secret) for r in requests)
    ticket = requests[-1].json()
    assert ticket["action"]["phone"] == "+447911123456"
    assert ticket["action"]["slot"]["start"].startswith(day.isoformat())
    assert ticket["anomaly_type"] == "delivery_late"
    assert ticket["order_number"] == body["order_number"]

    # And the customer is told a call is booked.
    confirmation = await stack.inbox.next(to=email)
    assert body["order_number"] in confirmation.subject
    link_in(confirmation, kind="c", stack=stack)
    sent = await stack.tap.wait_for(NotificationSent, shipment_id=shipment_id, count=3)
    assert sorted(n.trigger.name for n in sent) == sorted(
        ["shipped", "delivery_late", "callback_ticket"]
    )
