"""Back-office campaigns through the notifier: real PostgreSQL and a real SMTP server.

A campaign is one CampaignMessageRequested per shipment; each goes through the usual
rules (opt-out here) and every outcome carries the campaign id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from relais_contracts import ids
from relais_contracts.envelope import utc_now
from relais_contracts.topics.notification_commands import (
    AnomalyScenarioContent,
    BroadcastContent,
    BroadcastText,
    CampaignMessageRequested,
    MessageResendRequested,
    campaign_message_id,
)
from relais_contracts.topics.notifications import (
    Channel,
    NotificationSent,
    NotificationSuppressed,
    SuppressionReason,
    TriggerKind,
)
from relais_notifier.service.unsubscribing import Opt, opt_out
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import Harness, SmtpServer

MORNING = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
MERCHANT = "velocity-sports"
STRIKE = BroadcastContent(
    texts=(
        BroadcastText(
            locale="fr",
            subject="Grève : votre colis aura du retard",
            body="Bonjour,\nUne grève <b>touche</b> notre transporteur.",
        ),
        BroadcastText(
            locale="en",
            subject="Strike: your parcel will be late",
            body="Hello,\nA strike hits our carrier.",
        ),
    ),
    chat_scenario_id="carrier_strike",
)


def command(campaign_id: object, shipment_id: str, content: object) -> CampaignMessageRequested:
    assert isinstance(campaign_id, type(uuid4()))
    return CampaignMessageRequested(
        event_id=campaign_message_id(MERCHANT, campaign_id, shipment_id),
        occurred_at=utc_now(),
        merchant_id=MERCHANT,
        correlation_id=shipment_id,
        shipment_id=shipment_id,
        campaign_id=campaign_id,
        content=content,  # type: ignore[arg-type]
        order_number=f"O-{shipment_id}",
    )


async def customers(harness: Harness, count: int) -> list[tuple[str, str]]:
    tag = uuid4().hex[:8]
    people = [(f"S-{tag}-{n}", f"campaign-{tag}-{n}@example.com") for n in range(count)]
    for shipment_id, email in people:
        await harness.consume(
            factories.state(merchant_id=MERCHANT, shipment_id=shipment_id, email=email)
        )
    return people


async def test_a_broadcast_to_three_customers_one_opted_out_sends_two(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(MORNING)
    people = await customers(harness, 3)
    opted_out = people[2][1]
    address_hash = harness.links.hashes.address_hash(merchant_id=MERCHANT, address=opted_out)
    await opt_out(
        harness.pool,
        Opt(merchant_id=MERCHANT, channel="email", address_hash=address_hash),
        at=MORNING,
    )
    campaign_id = uuid4()
    for shipment_id, _ in people:
        assert await harness.consume(command(campaign_id, shipment_id, STRIKE))
        assert not await harness.consume(command(campaign_id, shipment_id, STRIKE))
    await harness.dispatcher.dispatch_due()

    outcomes = [o for s, _ in people for o in await harness.outcomes(s)]
    assert {o.trigger.campaign_id for o in outcomes} == {campaign_id}
    sent = [o for o in outcomes if isinstance(o, NotificationSent)]
    suppressed = [o for o in outcomes if isinstance(o, NotificationSuppressed)]
    assert len(sent) == 2
    assert [o.reason for o in suppressed] == [SuppressionReason.UNSUBSCRIBED]
    assert all(o.trigger.kind is TriggerKind.CAMPAIGN for o in outcomes)
    [message] = smtp.recorder.to(people[0][1])
    assert message["Subject"] == "Grève : votre colis aura du retard"
    html = message.get_body(("html",))
    assert html is not None
    assert "une grève &lt;b&gt;touche&lt;/b&gt;" in str(html.get_content()).lower()
    assert len(smtp.recorder.to(people[1][1])) == 1
    assert smtp.recorder.to(opted_out) == []


async def test_an_anomaly_scenario_campaign_repeats_the_anomaly_message_once(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(MORNING)
    [(with_anomaly, email), (without, _)] = await customers(harness, 2)
    detected = factories.anomaly(merchant_id=MERCHANT, shipment_id=with_anomaly)
    assert await harness.consume(detected)
    await harness.dispatcher.dispatch_due()
    [first] = smtp.recorder.to(email)

    campaign_id = uuid4()
    for shipment_id in (with_anomaly, without):
        await harness.consume(command(campaign_id, shipment_id, AnomalyScenarioContent()))
    await harness.dispatcher.dispatch_due()

    again = smtp.recorder.to(email)
    assert len(again) == 2
    assert again[1]["Subject"] == first["Subject"]
    campaign = [o for o in await harness.outcomes(with_anomaly) if o.trigger.campaign_id]
    assert [type(o) for o in campaign] == [NotificationSent]
    assert campaign[0].trigger.ref_id == detected.anomaly_id
    [nothing] = await harness.outcomes(without)
    assert isinstance(nothing, NotificationSuppressed)
    assert nothing.reason is SuppressionReason.TRIGGER_DISABLED
    assert nothing.trigger.campaign_id == campaign_id


async def test_a_resend_sends_the_same_message_again_once(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(MORNING)
    [(shipment_id, email)] = await customers(harness, 1)
    assert await harness.consume(factories.anomaly(merchant_id=MERCHANT, shipment_id=shipment_id))
    await harness.dispatcher.dispatch_due()
    [sent] = [o for o in await harness.outcomes(shipment_id) if isinstance(o, NotificationSent)]
    resend_id = uuid4()
    resend = MessageResendRequested(
        event_id=ids.derived_id("message-resend", MERCHANT, str(resend_id)),
        occurred_at=utc_now(),
        merchant_id=MERCHANT,
        correlation_id=shipment_id,
        shipment_id=shipment_id,
        resend_id=resend_id,
        notification_id=sent.notification_id,
    )
    assert await harness.consume(resend)
    await harness.dispatcher.dispatch_due()
    messages = smtp.recorder.to(email)
    assert len(messages) == 2
    assert messages[0]["Subject"] == messages[1]["Subject"]
    resent = [o for o in await harness.outcomes(shipment_id) if isinstance(o, NotificationSent)]
    assert resent[-1].idempotency_key.endswith(f"resend-{resend_id}")
    assert resent[-1].channel is Channel.EMAIL
