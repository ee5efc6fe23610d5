"""A merchant-declared delay: the anomaly asks for the declared wording, which gives the
reason, the merchant's note and the new dates in the customer's language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from relais_contracts.shipment import DeclaredDelay, DelayReason
from relais_contracts.topics import anomalies
from relais_contracts.topics.anomalies import AnomalyDetected
from relais_notifier.domain.triggers import MessageFacts, MessageRequest, anomaly_request
from relais_notifier.texts.rendering import Renderer, RenderRequest, catalogue
from relais_runtime.merchants import load_merchants
from relais_runtime.merchants.branding import Tone
from tests.conftest import REPO_ROOT

MERCHANTS = load_merchants(Path(REPO_ROOT) / "deploy" / "merchants")
RENDERER = Renderer()
DELAY = DeclaredDelay(
    reason=DelayReason.STOCK,
    note="Our supplier delivers on Monday",
    declared_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
    new_ship_by=datetime(2026, 11, 4, 23, 30, tzinfo=UTC),
    new_delivery_by=date(2026, 11, 7),
)
FACTS = MessageFacts(
    order_number="VS-58213",
    promised_delivery_by=DELAY.new_delivery_by,
    delay_reason=DELAY.reason,
    delay_note=DELAY.note,
    new_ship_by=DELAY.new_ship_by,
)


def declared_anomaly() -> AnomalyDetected:
    path = anomalies.TOPIC.examples_dir() / "AnomalyDetected-delivery-late-deadline.json"
    event = anomalies.TOPIC.decode(path.read_bytes())
    assert isinstance(event, AnomalyDetected)
    return event.model_copy(
        update={
            "evidence": event.evidence.model_copy(
                update={"deadline": None, "declared_delay": DELAY}
            ),
            "shipment": event.shipment.model_copy(
                update={"declared_delay": DELAY, "promised_delivery_by": DELAY.new_delivery_by}
            ),
        }
    )


def request(locale: str, *, template: str = "delivery_late_declared") -> RenderRequest:
    return RenderRequest(
        template=template,
        locale=locale,
        merchant=MERCHANTS["velocity-sports"],
        first_name="Oliver",
        time_zone="Europe/Paris",
        facts=FACTS,
        link="https://chat.example/c/TOKEN",
        link_expires_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_a_declared_anomaly_asks_for_the_declared_wording_with_its_facts() -> None:
    settings = MERCHANTS["velocity-sports"].notification
    assert settings is not None
    result = anomaly_request(declared_anomaly(), settings)
    assert isinstance(result, MessageRequest)
    assert result.template == "delivery_late_declared"
    assert result.facts.delay_reason is DelayReason.STOCK
    assert result.facts.delay_note == "Our supplier delivers on Monday"
    assert result.facts.new_ship_by == DELAY.new_ship_by
    assert result.facts.promised_delivery_by == date(2026, 11, 7)


def test_the_english_email_and_sms_give_the_reason_and_the_new_dates() -> None:
    email = RENDERER.email(request("en-GB"))
    assert email.subject == "Your order VS-58213 will be late"
    assert "will be late because an item is out of stock." in email.text
    assert "Velocity Sports adds: Our supplier delivers on Monday" in email.text
    # 23:30 UTC on the 4th is already the 5th in Paris.
    assert "It will now ship by Thursday, 5 November 2026." in email.text
    assert "It should reach you by Saturday, 7 November 2026." in email.text
    sms = RENDERER.sms(request("en-GB"))
    assert "order VS-58213 delayed (an item is out of stock), now due by 7 Nov." in sms


def test_the_french_email_gives_the_reason_and_the_new_dates() -> None:
    email = RENDERER.email(request("fr-FR", template="preparation_delay_declared"))
    assert email.subject == "Votre commande VS-58213 aura du retard"
    assert "aura du retard, car un article est en rupture de stock." in email.text
    assert "expédiée au plus tard le jeudi 5 novembre 2026" in email.text
    assert "au plus tard le samedi 7 novembre 2026" in email.text


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("tone", list(Tone))
def test_every_delay_reason_has_words(language: str, tone: Tone) -> None:
    assert set(catalogue(language, tone)["_delay_reasons"]) == {r.value for r in DelayReason}
