"""Rendering: every bound template in every language, escaping, language and date rules."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from relais_cli.samples.notifier import render_samples
from relais_contracts.topics.notifications import LinkKind
from relais_notifier.adapters.customer_hashes import CustomerHashes
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.domain.sms import SmsEncoding, measure_sms
from relais_notifier.domain.triggers import MessageFacts
from relais_notifier.texts.rendering import (
    CATALOGUE_LANGUAGES,
    Renderer,
    RenderingError,
    RenderRequest,
    _overlay_problems,
    catalogue,
    check_catalogue,
    readable_on,
    resolve_language,
)
from relais_runtime.merchants import load_merchants
from relais_runtime.merchants.branding import Tone
from tests.conftest import REPO_ROOT

MERCHANTS = load_merchants(Path(REPO_ROOT) / "deploy" / "merchants")
RENDERER = Renderer()
FACTS = MessageFacts(
    order_number="#10467",
    carrier="mondial_relay",
    tracking_number="27914563",
    promised_delivery_by=date(2026, 11, 3),
    estimated_delivery=date(2026, 11, 5),
    pickup_point_name="Tabac Presse du Marché",
    pickup_point_address="4 place du Marché, 44000 Nantes",
    pickup_hold_deadline=datetime(2026, 11, 14, 18, 30, tzinfo=UTC),
    action="refund",
    amount="45.50",
    currency="EUR",
)


def request(
    template: str, *, locale: str = "fr-FR", merchant: str = "maison-lumiere", **changes: object
) -> RenderRequest:
    fields: dict[str, object] = {
        "template": template,
        "locale": locale,
        "merchant": MERCHANTS[merchant],
        "first_name": "Camille",
        "time_zone": "Europe/Paris",
        "facts": FACTS,
        "link": "https://chat.example/c/TOKEN",
        "link_expires_at": datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        "unsubscribe_url": "https://notify.example/u/UNSUB",
    }
    fields.update(changes)
    return RenderRequest(**fields)  # type: ignore[arg-type]


def all_templates() -> list[str]:
    """Bound templates; `broadcast` lays out a merchant's own words (test_campaign_commands)."""
    return sorted(
        name for name in catalogue("en") if not name.startswith("_") and name != "broadcast"
    )


def test_both_catalogues_hold_the_same_complete_entries() -> None:
    assert check_catalogue(all_templates()) == []
    assert set(catalogue("fr")) == set(catalogue("en"))


def test_a_missing_template_is_named() -> None:
    assert check_catalogue(["no_such_message"]) == [
        f"{language}.yaml: template 'no_such_message' is missing"
        for language in sorted(CATALOGUE_LANGUAGES)
    ]


@pytest.mark.parametrize("template", all_templates())
@pytest.mark.parametrize("locale", ["fr-FR", "en-GB"])
def test_every_template_renders_with_the_link_and_facts(template: str, locale: str) -> None:
    email = RENDERER.email(request(template, locale=locale))
    sms = RENDERER.sms(request(template, locale=locale))
    assert "#10467" in email.subject
    assert "https://chat.example/c/TOKEN" in email.html
    assert "https://chat.example/c/TOKEN" in email.text
    assert "https://notify.example/u/UNSUB" in email.text
    assert sms.startswith("Maison Lumière")
    assert "https://chat.example/c/TOKEN" in sms
    assert "\n" not in sms
    assert "None" not in email.text + sms


def test_french_email_is_worded_in_french_with_babel_dates_in_the_customers_zone() -> None:
    email = RENDERER.email(request("pickup_ready", merchant="velocity-sports"))
    assert email.language == "fr"
    assert email.subject == "Votre commande #10467 vous attend"
    assert "Bonjour Camille," in email.text
    # 18:30 UTC is 19:30 in Paris.
    assert "avant le samedi 14 novembre 2026 19:30" in email.text
    assert 'lang="fr"' in email.html


def test_english_dates_follow_the_customers_region() -> None:
    british = RENDERER.email(request("delivery_late", locale="en-GB", merchant="velocity-sports"))
    american = RENDERER.email(request("delivery_late", locale="en-US", merchant="velocity-sports"))
    assert "expected by Tuesday, 3 November 2026" in british.text
    assert "expected by Tuesday, November 3, 2026" in american.text
    assert "Mondial Relay now expects to deliver it on Thursday, 5 November 2026." in british.text


def test_amounts_are_formatted_for_the_locale() -> None:
    french = RENDERER.email(request("action_completed"))
    english = RENDERER.email(request("action_completed", locale="en-GB"))
    assert "45,50\u00a0€" in french.text
    assert "€45.50" in english.text


def test_unknown_language_falls_back_to_the_merchants_first_then_english() -> None:
    assert resolve_language("pt-PT", ("fr", "en")) == "fr"
    assert resolve_language("pt-PT", ("sv",)) == "en"
    assert resolve_language("en-GB", ("fr",)) == "fr"  # the merchant does not serve English
    assert (
        RENDERER.email(request("shipped", locale="pt-BR", merchant="velocity-sports")).language
        == "en"
    )


def test_html_escapes_what_variables_hold() -> None:
    hostile = request("pickup_ready", first_name="<script>alert(1)</script>")
    email = RENDERER.email(hostile)
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "<script>alert(1)</script>" in email.text


def test_no_first_name_gives_a_plain_greeting() -> None:
    formal = request("shipped", first_name=None, merchant="velocity-sports")
    assert "Bonjour,\n" in RENDERER.email(formal).text
    assert "Salut,\n" in RENDERER.email(request("shipped", first_name=None)).text


def test_an_informal_merchant_says_tu_and_keeps_what_the_overlay_leaves_out() -> None:
    """maison-lumiere's tone is informal, velocity-sports' formal."""
    informal = RENDERER.email(request("pickup_ready"))
    formal = RENDERER.email(request("pickup_ready", merchant="velocity-sports"))
    assert informal.subject == "Ta commande #10467 t'attend"
    assert "Salut Camille," in informal.text
    assert "Retire-la avant le samedi 14 novembre 2026 19:30" in informal.text
    assert " vous " not in informal.text.replace(formal.text, "")
    # pickup_ready's heading and button are not in the overlay: the formal ones stay.
    assert catalogue("fr", Tone.INFORMAL)["pickup_ready"]["cta"] == "Voir le point relais"
    assert "Voir le point relais" in informal.text
    english = RENDERER.email(request("shipped", locale="en-GB"))
    assert english.subject == "Your order #10467 is on its way!"
    assert "Hi Camille," in english.text


def test_every_informal_text_says_tu_never_vous() -> None:
    informal = catalogue("fr", Tone.INFORMAL)
    texts = [
        text
        for name, entry in informal.items()
        if name not in ("_unsubscribe",)
        for value in entry.values()
        for text in (value if isinstance(value, list) else [value])
    ]
    assert [text for text in texts if re.search(r"\b(vous|votre|vos)\b", text)] == []


def test_an_overlay_entry_the_formal_catalogue_lacks_is_a_problem() -> None:
    base = {"shipped": {"subject": "s", "body": ["b"]}}
    assert _overlay_problems(base, {"shipped": {"subject": "x"}}) == []
    assert _overlay_problems(base, {"shiped": {"subject": "x"}, "shipped": {"subjet": "x"}}) == [
        "'shiped' is not in the formal catalogue",
        "shipped: key 'subjet' is not in the formal catalogue",
    ]


def test_branding_colours_and_name_are_in_the_html() -> None:
    email = RENDERER.email(request("shipped"))
    colors = MERCHANTS["maison-lumiere"].branding.colors
    assert colors.primary in email.html
    assert colors.accent in email.html
    assert "Maison Lumière" in email.html


def test_unknown_template_is_a_rendering_error() -> None:
    with pytest.raises(RenderingError, match="no_such"):
        RENDERER.email(request("no_such"))


def test_a_reminder_without_its_own_wording_uses_the_generic_one() -> None:
    email = RENDERER.email(request("delivery_late_reminder", merchant="velocity-sports"))
    assert email.subject == "Rappel au sujet de votre commande #10467"
    informal = RENDERER.email(request("delivery_late_reminder"))
    assert informal.subject == "Petit rappel au sujet de ta commande #10467"


def test_button_text_keeps_contrast_on_the_merchants_accent() -> None:
    assert readable_on("#f4b942") == "#1a1a1a"
    assert readable_on("#7a1f5c") == "#ffffff"
    assert readable_on("#000000") == "#ffffff"


def test_committed_sample_emails_are_current() -> None:
    """docs/emails holds one rendered email per merchant and language; regenerate with
    `uv run python -m relais_cli.samples.notifier docs/emails --screenshots`."""
    pages = render_samples(Path(REPO_ROOT) / "deploy" / "merchants")
    assert {name.rsplit("-", 1)[1] for name in pages} == {"fr.html", "en.html"}
    for name, html in pages.items():
        committed = Path(REPO_ROOT) / "docs" / "emails" / name
        assert committed.read_text(encoding="utf-8") == html, f"{name} is stale"


@pytest.mark.parametrize("locale", ["fr-FR", "en-GB"])
def test_every_sms_stays_gsm7_in_two_segments_with_a_real_link(locale: str) -> None:
    """A signed chat link is about 180 characters; one accented letter outside GSM 03.38
    (ê, û, ç...) would turn the text to UCS-2 and cost five segments instead of two."""
    links = LinkMaker(
        secrets=["s" * 40],
        hashes=CustomerHashes(pepper="p" * 40),
        public_chat_base_url="https://chat.relais.example",
        public_notifier_base_url="https://relais.example",
        max_age=timedelta(days=30),
        unsubscribe_max_age=timedelta(days=365),
    )
    link = links.link(
        merchant_id="maison-lumiere",
        kind=LinkKind.CHAT,
        subject="5c6e6606-90d8-5db2-b66c-7c8b15280148",
        now=datetime(2026, 11, 2, tzinfo=UTC),
    )
    for template in all_templates():
        body = RENDERER.sms(request(template, locale=locale, link=link.url))
        length = measure_sms(body)
        assert (template, length.encoding, length.segments) == (template, SmsEncoding.GSM7, 2)
