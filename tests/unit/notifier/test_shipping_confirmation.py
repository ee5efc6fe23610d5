"""What the customer is told: the shipping confirmation's facts and contents, and the
carrier's reason in an anomaly message, in English and French."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from relais_contracts.topics import anomalies
from relais_contracts.topics.anomalies import AnomalyDetected, ShipmentMilestoneReached
from relais_contracts.tracking import Incident, IncidentReason
from relais_notifier.domain.triggers import (
    MessageFacts,
    MessageItem,
    MessageRequest,
    anomaly_request,
    milestone_request,
)
from relais_notifier.texts.rendering import Renderer, RenderingError, RenderRequest, catalogue
from relais_runtime.merchants import load_merchants
from relais_runtime.merchants.branding import Tone
from tests.conftest import REPO_ROOT

MERCHANTS = load_merchants(Path(REPO_ROOT) / "deploy" / "merchants")
RENDERER = Renderer()
LAMP = "https://cdn.example/lamp.jpg"
TIMES = "\u00d7"
SHIPPED = MessageFacts(
    order_number="VS-58213",
    carrier="colissimo",
    tracking_number="6A23456789012",
    promised_delivery_by=date(2026, 11, 5),
    items=(
        MessageItem(name="Brass <desk> lamp", quantity=2, image_url=LAMP),
        MessageItem(name="Linen cushion", quantity=1),
    ),
)


def request(
    facts: MessageFacts, *, template: str = "shipped", locale: str = "en-GB", **changes: object
) -> RenderRequest:
    fields: dict[str, object] = {
        "template": template,
        "locale": locale,
        "merchant": MERCHANTS["velocity-sports"],
        "first_name": "Oliver",
        "time_zone": "Europe/Paris",
        "facts": facts,
        "link": "https://relais.example/t/TOKEN",
        "link_expires_at": datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        "unsubscribe_url": None,
    }
    fields.update(changes)
    return RenderRequest(**fields)  # type: ignore[arg-type]


def example(name: str) -> object:
    return anomalies.TOPIC.decode((anomalies.TOPIC.examples_dir() / name).read_bytes())


def test_the_shipped_milestone_carries_the_parcel_s_contents() -> None:
    settings = MERCHANTS["velocity-sports"].notification
    assert settings is not None
    event = example("ShipmentMilestoneReached-shipped-en.json")
    assert isinstance(event, ShipmentMilestoneReached)
    result = milestone_request(event, settings)
    assert isinstance(result, MessageRequest)
    assert [(i.name, i.quantity) for i in result.facts.items] == [("Titanium camping stove", 1)]
    assert result.facts.items[0].image_url == (
        "https://cdn.northwind-outdoor.example/products/stove-ti.jpg"
    )
    assert result.facts.tracking_number == event.shipment.tracking_number


def test_other_messages_do_not_list_the_contents() -> None:
    settings = MERCHANTS["velocity-sports"].notification
    assert settings is not None
    event = example("ShipmentMilestoneReached-delivered-fr.json")
    assert isinstance(event, ShipmentMilestoneReached)
    assert event.shipment.items
    result = milestone_request(event, settings)
    assert isinstance(result, MessageRequest)
    assert result.facts.items == ()


def test_the_shipped_email_has_tracking_number_carrier_date_and_contents() -> None:
    email = RENDERER.email(request(SHIPPED))
    assert "Tracking number: 6A23456789012." in email.text
    assert "with Colissimo" in email.text
    assert "by Thursday, 5 November 2026" in email.text
    assert (
        f"In this parcel\n- Brass <desk> lamp {TIMES} 2\n- Linen cushion {TIMES} 1\n" in email.text
    )
    assert f'<img src="{LAMP}" alt="Brass &lt;desk&gt; lamp"' in email.html
    assert f"Brass &lt;desk&gt; lamp {TIMES} 2" in email.html
    assert email.html.count("<img ") == 1, "no picture for an item without one"
    accent = MERCHANTS["velocity-sports"].branding.colors.accent
    assert f"background:{accent}" in email.html
    assert 'href="https://relais.example/t/TOKEN"' in email.html


def test_the_shipped_email_in_french_uses_french_words_and_dates() -> None:
    email = RENDERER.email(request(SHIPPED, locale="fr-FR"))
    assert "Numéro de suivi : 6A23456789012." in email.text
    assert "au plus tard le jeudi 5 novembre 2026" in email.text
    assert f"Dans ce colis\n- Brass <desk> lamp {TIMES} 2\n" in email.text


def test_the_shipped_sms_has_tracking_number_and_a_short_date() -> None:
    english = RENDERER.sms(request(SHIPPED))
    french = RENDERER.sms(request(SHIPPED, locale="fr-FR"))
    assert "with Colissimo, no. 6A23456789012, due by 5 Nov." in english
    assert "avec Colissimo (suivi 6A23456789012), livrée d'ici le 5 nov." in french


def test_no_contents_no_contents_block() -> None:
    email = RENDERER.email(request(SHIPPED.model_copy(update={"items": ()})))
    assert "In this parcel" not in email.text + email.html


def test_a_detected_anomaly_with_a_carrier_reason_carries_it() -> None:
    settings = MERCHANTS["velocity-sports"].notification
    assert settings is not None
    event = example("AnomalyDetected-failed-attempt-en.json")
    assert isinstance(event, AnomalyDetected)
    with_reason = event.model_copy(
        update={
            "evidence": event.evidence.model_copy(
                update={"incident": Incident.of(IncidentReason.RECIPIENT_ACCESS_RESTRICTED)}
            )
        }
    )
    result = anomaly_request(with_reason, settings)
    assert isinstance(result, MessageRequest)
    assert result.facts.incident_reason is IncidentReason.RECIPIENT_ACCESS_RESTRICTED
    unknown = event.model_copy(
        update={
            "evidence": event.evidence.model_copy(
                update={"incident": Incident.of(IncidentReason.UNKNOWN)}
            )
        }
    )
    result = anomaly_request(unknown, settings)
    assert isinstance(result, MessageRequest)
    assert result.facts.incident_reason is None


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        (
            "en-GB",
            "DPD gives this reason: the driver could not get to the door (door code, gate).",
        ),
        (
            "fr-FR",
            "DPD indique ce motif : le livreur n'a pas pu accéder à la porte (digicode, portail).",
        ),
    ],
)
def test_the_carrier_s_reason_is_the_second_paragraph(locale: str, sentence: str) -> None:
    facts = MessageFacts(
        order_number="NW-1",
        carrier="dpd",
        incident_reason=IncidentReason.RECIPIENT_ACCESS_RESTRICTED,
    )
    email = RENDERER.email(request(facts, template="failed_attempt", locale=locale))
    paragraphs = [p for p in email.text.split("\n\n") if p]
    assert paragraphs[3] == sentence
    assert sentence.replace("'", "&#39;") in email.html


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("tone", list(Tone))
def test_every_incident_reason_has_a_customer_sentence(language: str, tone: Tone) -> None:
    reasons = catalogue(language, tone)["_reasons"]
    assert set(reasons) == {reason.value for reason in IncidentReason}
    assert all(text.strip() and text.endswith(".") for text in reasons.values())


def test_french_reasons_say_neither_vous_nor_tu() -> None:
    """They are shared by the formal and the informal tone."""
    import re

    texts = catalogue("fr")["_reasons"].values()
    assert [t for t in texts if re.search(r"\b(vous|votre|vos|tu|ton|ta|tes)\b", t)] == []


def test_a_reason_the_catalogue_lacks_is_a_rendering_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    facts = MessageFacts(order_number="NW-1", incident_reason=IncidentReason.CUSTOMS_DELAY)
    entries = dict(catalogue("en"))
    entries["_reasons"] = {}
    monkeypatch.setattr(
        "relais_notifier.texts.rendering.catalogue", lambda language, tone=Tone.FORMAL: entries
    )
    with pytest.raises(RenderingError, match="customs_delay"):
        RENDERER.email(request(facts, template="held_at_customs"))
