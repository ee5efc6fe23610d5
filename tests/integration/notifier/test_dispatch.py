"""The notifier against real PostgreSQL, a real SMTP server and an HTTP SMS provider.

Time is a ManualClock: quiet hours, caps, leases and link expiry are driven by the
test, never by sleeping.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType, Milestone
from relais_contracts.topics.notifications import (
    Channel,
    DeferralReason,
    FailureReason,
    LinkKind,
    NotificationDeferred,
    NotificationFailed,
    NotificationSent,
    NotificationSuppressed,
    SuppressionReason,
)
from relais_notifier.adapters.channels import ChannelError
from relais_notifier.adapters.channels.sms import TwilioSms
from relais_runtime.links import LinkError, LinkPurpose
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import (
    INVALID_NUMBER,
    TWILIO_SID,
    TWILIO_TOKEN,
    Harness,
    SmsProvider,
    SmtpServer,
)

PARIS_MORNING = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # 11:00 in Paris, 10:00 in London
CHAT_LINK = re.compile(r"https://chat\.test/c/([A-Za-z0-9_.-]+)")


def fresh() -> tuple[str, str]:
    tag = uuid4().hex[:8]
    return f"S-{tag}", f"customer-{tag}@example.com"


async def plan_anomaly(
    harness: Harness,
    *,
    merchant_id: str,
    email: str | None,
    phone: str | None = None,
    locale: str = "fr-FR",
    anomaly_type: AnomalyType = AnomalyType.DELIVERY_LATE,
    shipment_id: str | None = None,
) -> factories.AnomalyDetected:
    shipment_id = shipment_id or fresh()[0]
    await harness.consume(
        factories.state(
            merchant_id=merchant_id,
            shipment_id=shipment_id,
            email=email,
            phone=phone,
            locale=locale,
            time_zone="Europe/London" if locale.startswith("en") else "Europe/Paris",
        )
    )
    detected = factories.anomaly(
        merchant_id=merchant_id, shipment_id=shipment_id, anomaly_type=anomaly_type
    )
    assert await harness.consume(detected)
    return detected


@pytest.mark.parametrize(
    ("merchant_id", "locale", "sender", "subject"),
    [
        (
            "maison-lumiere",
            "fr-FR",
            "Maison Lumière <bonjour@maison-lumiere.example>",
            "Ta commande #10452 a du retard",  # maison-lumiere is informal,
        ),
        (
            "velocity-sports",
            "en-GB",
            "Velocity Sports <orders@velocity-sports.example>",
            "Your order #10452 is running late",
        ),
    ],
)
async def test_email_per_merchant_and_locale_with_a_signed_expiring_chat_link(
    harness: Harness,
    smtp: SmtpServer,
    merchant_id: str,
    locale: str,
    sender: str,
    subject: str,
) -> None:
    harness.clock.set(PARIS_MORNING)
    shipment_id, email = fresh()
    detected = await plan_anomaly(
        harness, merchant_id=merchant_id, email=email, locale=locale, shipment_id=shipment_id
    )
    await harness.dispatcher.dispatch_due()

    [message] = smtp.recorder.to(email)
    key = ids.notification_key(detected.anomaly_id, "email", "initial")
    domain = sender.rsplit("@", 1)[1].rstrip(">")
    assert message["From"] == sender
    assert message["Subject"] == subject
    assert message["Message-ID"].strip() == f"<{key.replace(':', '.')}@{domain}>"
    assert message["Content-Language"] == locale[:2]
    assert message["List-Unsubscribe"].startswith(f"<{harness.http}/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert ("Salut Camille," if locale == "fr-FR" else "Hello Camille,") in text
    assert "#10452" in html
    assert "camille" not in harness.settings.model_dump_json().lower()

    token = CHAT_LINK.search(text).group(1)  # type: ignore[union-attr]
    assert f"https://chat.test/c/{token}" in html
    claims = harness.links.signer.verify(token, purpose=LinkPurpose.CHAT, now=harness.clock.now())
    assert (claims.merchant_id, claims.subject) == (merchant_id, str(detected.anomaly_id))
    with pytest.raises(LinkError) as expired:
        harness.links.signer.verify(
            token, purpose=LinkPurpose.CHAT, now=harness.clock.now() + timedelta(days=30, seconds=1)
        )
    assert expired.value.expired
    with pytest.raises(LinkError):
        harness.links.signer.verify(token, purpose=LinkPurpose.TRACKING, now=harness.clock.now())

    [sent] = await harness.outcomes(shipment_id)
    assert isinstance(sent, NotificationSent)
    assert sent.idempotency_key == key
    assert sent.provider_message_id == message["Message-ID"].strip()
    assert sent.link_kind is LinkKind.CHAT
    assert sent.link_expires_at == PARIS_MORNING + timedelta(days=30)
    assert sent.locale == locale[:2]
    assert sent.attempts == 1


async def test_redelivered_input_never_sends_twice(harness: Harness, smtp: SmtpServer) -> None:
    harness.clock.set(PARIS_MORNING)
    shipment_id, email = fresh()
    detected = await plan_anomaly(
        harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id
    )
    # The same event again: its id is already claimed.
    assert not await harness.consume(detected)
    # The detector re-emitting the same anomaly under a new event id: same keys.
    assert await harness.consume(detected.model_copy(update={"event_id": uuid4()}))
    await harness.dispatcher.dispatch_due()
    assert await harness.consume(detected.model_copy(update={"event_id": uuid4()}))
    await harness.dispatcher.dispatch_due()
    harness.clock.advance(timedelta(hours=1))
    await harness.dispatcher.dispatch_due()

    assert len(smtp.recorder.to(email)) == 1
    outcomes = await harness.outcomes(shipment_id)
    assert [type(event).__name__ for event in outcomes] == ["NotificationSent"]


async def test_a_crash_after_marking_sending_resends_once_after_the_lease(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(PARIS_MORNING)
    shipment_id, email = fresh()
    detected = await plan_anomaly(
        harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id
    )
    key = ids.notification_key(detected.anomaly_id, "email", "initial")
    # Transaction A commits "sending", then the process dies before it sends.
    async with harness.pool.acquire() as connection, connection.transaction():
        assert await harness.dispatcher._decide(connection, key) is not None
    assert (await harness.row(key))["status"] == "sending"

    await harness.dispatcher.dispatch_due()
    assert smtp.recorder.to(email) == [], "a live lease is never taken over"
    harness.clock.advance(timedelta(seconds=harness.settings.sending_lease_s))
    await harness.dispatcher.dispatch_due()
    await harness.dispatcher.dispatch_due()

    [message] = smtp.recorder.to(email)
    assert message["Message-ID"].strip().startswith(f"<{key.replace(':', '.')}@")
    [sent] = await harness.outcomes(shipment_id)
    assert isinstance(sent, NotificationSent)
    assert sent.attempts == 2


async def test_quiet_hours_defer_to_the_morning_and_urgent_types_pass(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(datetime(2026, 11, 2, 22, 15, tzinfo=UTC))  # 23:15 in Paris
    shipment_id, email = fresh()
    detected = await plan_anomaly(
        harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id
    )
    await harness.dispatcher.dispatch_due()
    assert smtp.recorder.to(email) == []
    [deferred] = await harness.outcomes(shipment_id)
    assert isinstance(deferred, NotificationDeferred)
    assert deferred.reason is DeferralReason.QUIET_HOURS
    morning = datetime(2026, 11, 3, 7, 30, tzinfo=UTC)  # 08:30 in Paris
    assert deferred.deliver_after == morning

    harness.clock.set(morning - timedelta(seconds=1))
    await harness.dispatcher.dispatch_due()
    assert smtp.recorder.to(email) == []
    harness.clock.set(morning)
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(email)) == 1
    outcomes = await harness.outcomes(shipment_id)
    assert [type(event).__name__ for event in outcomes] == [
        "NotificationDeferred",
        "NotificationSent",
    ]
    assert outcomes[1].idempotency_key == ids.notification_key(
        detected.anomaly_id, "email", "initial"
    )

    # address_problem is urgent for this merchant: it goes out at night.
    harness.clock.set(datetime(2026, 11, 3, 22, 15, tzinfo=UTC))
    urgent_shipment, urgent_email = fresh()
    await plan_anomaly(
        harness,
        merchant_id="maison-lumiere",
        email=urgent_email,
        phone="+33612345678",
        anomaly_type=AnomalyType.ADDRESS_PROBLEM,
        shipment_id=urgent_shipment,
    )
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(urgent_email)) == 1


async def test_frequency_cap_per_customer(harness: Harness, smtp: SmtpServer) -> None:
    harness.clock.set(PARIS_MORNING)
    _, email = fresh()
    first_sent_at = harness.clock.now()
    shipments = []
    # velocity-sports allows 3 messages per customer per 24 h.
    for anomaly_type in (AnomalyType.DELIVERY_LATE, AnomalyType.STALLED, AnomalyType.REFUSED):
        shipment_id = fresh()[0]
        shipments.append(shipment_id)
        await plan_anomaly(
            harness,
            merchant_id="velocity-sports",
            email=email,
            locale="en-GB",
            anomaly_type=anomaly_type,
            shipment_id=shipment_id,
        )
        await harness.dispatcher.dispatch_due()
        harness.clock.advance(timedelta(minutes=10))
    assert len(smtp.recorder.to(email)) == 3

    fourth = fresh()[0]
    await plan_anomaly(
        harness, merchant_id="velocity-sports", email=email, locale="en-GB", shipment_id=fourth
    )
    await harness.dispatcher.dispatch_due()
    [deferred] = await harness.outcomes(fourth)
    assert isinstance(deferred, NotificationDeferred)
    assert deferred.reason is DeferralReason.FREQUENCY_CAP
    assert deferred.deliver_after == first_sent_at + timedelta(hours=24)

    news = factories.milestone(
        merchant_id="velocity-sports", shipment_id=fourth, which=Milestone.SHIPPED
    )
    assert await harness.consume(news)
    await harness.dispatcher.dispatch_due()
    suppressed = [
        e for e in await harness.outcomes(fourth) if isinstance(e, NotificationSuppressed)
    ]
    assert [e.reason for e in suppressed] == [SuppressionReason.FREQUENCY_CAP]
    assert len(smtp.recorder.to(email)) == 3

    harness.clock.set(first_sent_at + timedelta(hours=24))
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(email)) == 4


async def test_unsubscribe_link_confirms_then_unsubscribes(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(PARIS_MORNING)
    shipment_id, email = fresh()
    await plan_anomaly(harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id)
    await harness.dispatcher.dispatch_due()
    [message] = smtp.recorder.to(email)
    url = message["List-Unsubscribe"].strip("<>")

    async with httpx.AsyncClient() as client:
        shown = await client.get(url, headers={"Accept-Language": "fr-FR,fr;q=0.9"})
        assert shown.status_code == 200
        assert "Me désinscrire" in shown.text
        assert 'method="post"' in shown.text
        # RFC 8058 one-click: the mailbox POSTs this body on its own.
        done = await client.post(url, content=b"List-Unsubscribe=One-Click")
        assert done.status_code == 200
        assert "Maison Lumière" in done.text
        forged = await client.get(url[:-3] + "abc")
        assert forged.status_code == 400
        harness.clock.advance(timedelta(days=366))
        assert (await client.get(url)).status_code == 410
    harness.clock.set(PARIS_MORNING + timedelta(days=2))

    later = fresh()[0]
    await plan_anomaly(harness, merchant_id="maison-lumiere", email=email, shipment_id=later)
    await harness.dispatcher.dispatch_due()
    [suppressed] = await harness.outcomes(later)
    assert isinstance(suppressed, NotificationSuppressed)
    assert suppressed.reason is SuppressionReason.UNSUBSCRIBED
    assert len(smtp.recorder.to(email)) == 1


async def test_no_email_falls_back_to_sms_through_the_provider(
    harness: Harness, sms_provider: SmsProvider
) -> None:
    harness.clock.set(PARIS_MORNING)
    shipment_id = fresh()[0]
    phone = "+3361" + str(uuid4().int)[:7]
    detected = await plan_anomaly(
        harness, merchant_id="maison-lumiere", email=None, phone=phone, shipment_id=shipment_id
    )
    await harness.dispatcher.dispatch_due()
    await harness.dispatcher.dispatch_due()

    [sms] = [form for form in sms_provider.received if form["To"] == phone]
    assert sms["From"] == "MLumiere"
    assert sms["Body"].startswith("Maison Lumière : ta commande #10452 a du retard.")
    token = re.search(r"https://chat\.test/c/(\S+)", sms["Body"]).group(1)  # type: ignore[union-attr]
    claims = harness.links.signer.verify(token, purpose=LinkPurpose.CHAT, now=harness.clock.now())
    assert claims.subject == str(detected.anomaly_id)

    suppressed, sent = await harness.outcomes(shipment_id)
    assert isinstance(suppressed, NotificationSuppressed)
    assert (suppressed.channel, suppressed.reason) == (Channel.EMAIL, SuppressionReason.NO_CONTACT)
    assert isinstance(sent, NotificationSent)
    assert sent.channel is Channel.SMS
    assert sent.fallback_from is Channel.EMAIL
    assert sent.provider == "twilio"
    assert (sent.provider_message_id or "").startswith("SM")
    assert (sent.sms_segments or 0) >= 1
    assert sent.idempotency_key == ids.notification_key(detected.anomaly_id, "sms", "initial")


async def test_sms_adapter_maps_provider_answers(sms_provider: SmsProvider) -> None:
    async with httpx.AsyncClient() as client:
        twilio = TwilioSms(
            client=client,
            base_url=sms_provider.base_url,
            account_sid=TWILIO_SID,
            auth_token=TWILIO_TOKEN,
        )
        receipt = await twilio.send(to="+33700000001", sender="Shop", body="Bonjour ê" * 10)
        assert receipt.provider == "twilio"
        assert receipt.segments == 2
        with pytest.raises(ChannelError) as invalid:
            await twilio.send(to=INVALID_NUMBER, sender="Shop", body="x")
        assert (invalid.value.transient, invalid.value.reason) == (
            False,
            FailureReason.INVALID_RECIPIENT,
        )
        sms_provider.fail_next.append(503)
        with pytest.raises(ChannelError) as unavailable:
            await twilio.send(to="+33700000001", sender="Shop", body="x")
        assert unavailable.value.transient
        wrong = TwilioSms(
            client=client, base_url=sms_provider.base_url, account_sid=TWILIO_SID, auth_token="no"
        )
        with pytest.raises(ChannelError) as unauthorised:
            await wrong.send(to="+33700000001", sender="Shop", body="x")
        assert unauthorised.value.reason is FailureReason.CONFIGURATION_ERROR


async def test_transient_smtp_failures_are_retried_and_bounces_recorded(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(PARIS_MORNING)
    shipment_id, email = fresh()
    smtp.recorder.fail_next.extend(["451 4.3.0 try again later", "421 4.7.0 busy"])
    await plan_anomaly(harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id)
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(email)) == 1
    assert [type(e).__name__ for e in await harness.outcomes(shipment_id)] == ["NotificationSent"]

    # Down for longer than the in-process retries: a durable round later.
    smtp.recorder.fail_next.extend(["451 4.3.0 try again later"] * 3)
    later, later_email = fresh()
    await plan_anomaly(harness, merchant_id="maison-lumiere", email=later_email, shipment_id=later)
    await harness.dispatcher.dispatch_due()
    [deferred] = await harness.outcomes(later)
    assert isinstance(deferred, NotificationDeferred)
    assert deferred.reason is DeferralReason.TRANSIENT_FAILURE
    harness.clock.set(deferred.deliver_after)
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(later_email)) == 1

    bounced = fresh()[0]
    await plan_anomaly(
        harness, merchant_id="maison-lumiere", email="nobody@bounce.example", shipment_id=bounced
    )
    await harness.dispatcher.dispatch_due()
    [failed] = await harness.outcomes(bounced)
    assert isinstance(failed, NotificationFailed)
    assert failed.reason is FailureReason.INVALID_RECIPIENT
    assert failed.provider_status == "550"


async def test_a_resolved_anomaly_makes_its_deferred_message_stale(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(datetime(2026, 11, 2, 22, 15, tzinfo=UTC))
    shipment_id, email = fresh()
    detected = await plan_anomaly(
        harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id
    )
    await harness.dispatcher.dispatch_due()
    assert await harness.consume(factories.resolved(detected))
    harness.clock.set(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    await harness.dispatcher.dispatch_due()
    assert smtp.recorder.to(email) == []
    deferred, stale = await harness.outcomes(shipment_id)
    assert isinstance(deferred, NotificationDeferred)
    assert isinstance(stale, NotificationSuppressed)
    assert stale.reason is SuppressionReason.STALE


async def test_milestones_and_action_confirmation(harness: Harness, smtp: SmtpServer) -> None:
    harness.clock.set(PARIS_MORNING)
    shipment_id, email = fresh()
    await harness.consume(
        factories.state(
            merchant_id="velocity-sports", shipment_id=shipment_id, email=email, locale="en-GB"
        )
    )
    shipped = factories.milestone(
        merchant_id="velocity-sports", shipment_id=shipment_id, which=Milestone.SHIPPED
    )
    delivered = factories.milestone(
        merchant_id="velocity-sports", shipment_id=shipment_id, which=Milestone.DELIVERED
    )
    out = factories.milestone(
        merchant_id="velocity-sports", shipment_id=shipment_id, which=Milestone.OUT_FOR_DELIVERY
    )
    for event in (shipped, out, delivered):
        assert await harness.consume(event)
        await harness.dispatcher.dispatch_due()
    harness.clock.advance(timedelta(hours=1))
    done = factories.action_completed(merchant_id="velocity-sports", shipment_id=shipment_id)
    assert await harness.consume(done)
    await harness.dispatcher.dispatch_due()

    subjects = [message["Subject"] for message in smtp.recorder.to(email)]
    number = shipped.shipment.order_number
    assert subjects == [
        f"Your order {number} is on its way",
        f"Your order {number} has been delivered",
        f"Order {done.order_number}: a new parcel with your order is on its way",
    ]
    texts = [m.get_body(("plain",)).get_content() for m in smtp.recorder.to(email)]
    assert "https://chat.test/t/" in texts[0]
    assert "https://chat.test/s/" in texts[1]
    outcomes = await harness.outcomes(shipment_id)
    disabled = [e for e in outcomes if isinstance(e, NotificationSuppressed)]
    assert [(e.trigger.name, e.reason) for e in disabled] == [
        ("out_for_delivery", SuppressionReason.TRIGGER_DISABLED)
    ]
    recorded = await harness.pool.fetch(
        "SELECT trigger_name, outcome_reason FROM notifications"
        " WHERE shipment_id = $1 AND status = 'suppressed'",
        shipment_id,
    )
    assert [tuple(row) for row in recorded] == [("out_for_delivery", "trigger_disabled")]


async def test_an_unreachable_smtp_server_delays_messages_and_never_fails_them(
    harness: Harness, smtp: SmtpServer
) -> None:
    from relais_notifier.bootstrap import build_dispatcher, load_merchant_directory, make_links
    from relais_notifier.service.sending import ProviderUnreachable
    from relais_notifier.texts.rendering import Renderer
    from tests.conftest import free_port

    down = harness.settings.model_copy(update={"smtp_port": free_port()})  # nobody listens
    async with httpx.AsyncClient(timeout=5) as client:
        unreachable = build_dispatcher(
            down,
            pool=harness.pool,
            clock=harness.clock,
            merchants=load_merchant_directory(down.merchants_dir),
            renderer=Renderer(),
            links=make_links(down),
            client=client,
        )
        harness.clock.set(PARIS_MORNING)
        shipment_id, email = fresh()
        await plan_anomaly(
            harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id
        )
        # Longer than every durable round: an outage never uses them up.
        for _ in range(harness.settings.send_rounds + 3):
            with pytest.raises(ProviderUnreachable):
                await unreachable.dispatch_due()
            async with harness.pool.acquire() as connection:
                row = await connection.fetchrow(
                    "SELECT status, rounds, due_at FROM notifications WHERE shipment_id = $1",
                    shipment_id,
                )
            assert row is not None
            assert (row["status"], row["rounds"]) == ("pending", 0)
            harness.clock.set(row["due_at"])

    outcomes = await harness.outcomes(shipment_id)
    assert {type(event).__name__ for event in outcomes} == {"NotificationDeferred"}
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(email)) == 1, "sent once the server is back, exactly once"
    assert type((await harness.outcomes(shipment_id))[-1]).__name__ == "NotificationSent"


async def test_a_send_is_recorded_even_if_the_database_blinks_right_after_it(
    harness: Harness, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider has the message: an outage while recording it must not leave the row
    `sending` (its lease would send it again)."""
    harness.clock.set(PARIS_MORNING)
    shipment_id, email = fresh()
    await plan_anomaly(harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id)
    record_sent = harness.dispatcher._record_sent
    blinks = [ConnectionResetError("connection reset by the database"), None]

    async def blinking(*args: object) -> None:
        failure = blinks.pop(0)
        if failure is not None:
            raise failure
        await record_sent(*args)

    monkeypatch.setattr(harness.dispatcher, "_record_sent", blinking)
    await harness.dispatcher.dispatch_due()

    assert len(smtp.recorder.to(email)) == 1
    async with harness.pool.acquire() as connection:
        status = await connection.fetchval(
            "SELECT status FROM notifications WHERE shipment_id = $1", shipment_id
        )
    assert status == "sent"
    assert blinks == []
