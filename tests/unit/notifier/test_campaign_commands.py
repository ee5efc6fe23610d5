"""From back-office commands to send-log rows (pure): keys, triggers and wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from relais_contracts.ids import notification_key
from relais_contracts.topics.notification_commands import (
    BroadcastContent,
    BroadcastText,
    CampaignMessageRequested,
    campaign_message_id,
)
from relais_contracts.topics.notifications import Channel, LinkKind, TriggerKind
from relais_notifier.domain.commands import BROADCAST_TEMPLATE, broadcast_rows
from relais_notifier.domain.outcomes import NotificationStatus
from relais_notifier.domain.triggers import MessageFacts
from relais_notifier.texts.rendering import RenderRequest, broadcast_wording
from relais_runtime.links import BroadcastChat, parse_broadcast_chat_subject
from tests.unit.notifier.test_rendering import MERCHANTS, RENDERER

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
CONTENT = BroadcastContent(
    texts=(
        BroadcastText(locale="fr", subject="Grève des livreurs", body="Bonjour\n\n<b>Pardon</b>"),
        BroadcastText(locale="en-GB", subject="Strike", body="Hello"),
    )
)
MERCHANT = MERCHANTS["velocity-sports"]
SETTINGS = MERCHANT.notification
assert SETTINGS is not None


def request(campaign_id: UUID) -> CampaignMessageRequested:
    return CampaignMessageRequested(
        occurred_at=NOW,
        merchant_id="velocity-sports",
        correlation_id="S-1",
        shipment_id="S-1",
        campaign_id=campaign_id,
        content=CONTENT,
        order_number="#10467",
    )


def test_a_broadcast_is_one_pending_row_per_channel_keyed_by_campaign_and_shipment() -> None:
    assert SETTINGS is not None
    campaign_id = uuid4()
    settings = SETTINGS.model_copy(update={"channels": SETTINGS.channels})
    rows = broadcast_rows(request(campaign_id), settings, now=NOW)
    ref = campaign_message_id("velocity-sports", campaign_id, "S-1")
    assert [row.idempotency_key for row in rows] == [
        notification_key(ref, channel.value, "campaign") for channel in settings.channels
    ]
    row = rows[0]
    assert row.channel is Channel.EMAIL
    assert (row.trigger_kind, row.template, row.status) == (
        TriggerKind.CAMPAIGN,
        BROADCAST_TEMPLATE,
        NotificationStatus.PENDING,
    )
    assert row.link_kind is LinkKind.TRACKING_PAGE
    assert row.facts is not None
    assert row.facts.campaign_id == campaign_id
    other = broadcast_rows(request(uuid4()), settings, now=NOW)
    assert other[0].idempotency_key != row.idempotency_key


def test_the_wording_follows_the_locale_then_the_language_then_the_first() -> None:
    assert SETTINGS is not None
    facts = broadcast_rows(request(uuid4()), SETTINGS, now=NOW)[0].facts
    assert isinstance(facts, MessageFacts)
    chosen = [broadcast_wording(facts, locale) for locale in ("fr-FR", "en-GB", "de-DE")]
    assert [wording.subject if wording else None for wording in chosen] == [
        "Grève des livreurs",
        "Strike",
        "Grève des livreurs",
    ]
    assert broadcast_wording(MessageFacts(order_number="1"), "fr-FR") is None


def test_a_broadcast_renders_the_merchants_words_escaped_in_its_branding() -> None:
    assert SETTINGS is not None
    facts = broadcast_rows(request(uuid4()), SETTINGS, now=NOW)[0].facts
    assert facts is not None
    render = RenderRequest(
        template=BROADCAST_TEMPLATE,
        locale="fr-FR",
        merchant=MERCHANT,
        first_name="Camille",
        time_zone="Europe/Paris",
        facts=facts,
        link="https://chat.example/t/TOKEN",
        link_expires_at=NOW + timedelta(days=30),
        unsubscribe_url="https://notify.example/u/UNSUB",
    )
    email = RENDERER.email(render)
    assert email.subject == "Grève des livreurs"
    assert "&lt;b&gt;Pardon&lt;/b&gt;" in email.html
    assert "<b>Pardon</b>" in email.text
    assert MERCHANT.branding.display_name in email.html
    assert "Suivre mon colis" in email.html
    sms = RENDERER.sms(render)
    assert "Grève des livreurs" in sms
    assert "https://chat.example/t/TOKEN" in sms


def test_a_broadcast_with_a_chat_scenario_links_to_that_scenario_for_its_shipment() -> None:
    assert SETTINGS is not None
    campaign_id = uuid4()
    chosen = CONTENT.model_copy(update={"chat_scenario_id": "default/carrier_strike"})
    event = request(campaign_id).model_copy(update={"content": chosen})
    rows = broadcast_rows(event, SETTINGS, now=NOW)
    assert {row.link_kind for row in rows} == {LinkKind.CHAT}
    assert rows[0].link_subject is not None
    opened = parse_broadcast_chat_subject(rows[0].link_subject)
    assert opened == BroadcastChat(
        campaign_message_id=campaign_message_id("velocity-sports", campaign_id, "S-1"),
        scenario_id="default/carrier_strike",
        shipment_id="S-1",
    )
    plain = broadcast_rows(request(campaign_id), SETTINGS, now=NOW)[0]
    assert (plain.link_kind, plain.link_subject) == (LinkKind.TRACKING_PAGE, "S-1")
