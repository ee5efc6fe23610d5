"""The notifier in six languages: every file complete, the fallback chain, dates in the
customer's locale, German du/Sie, SMS that stay GSM-7, the unsubscribe page."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from relais_contracts.shipment import DelayReason
from relais_contracts.topics.notifications import LinkKind
from relais_notifier.adapters.customer_hashes import CustomerHashes
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.domain.sms import SmsEncoding, measure_sms
from relais_notifier.domain.triggers import MessageFacts
from relais_notifier.texts.rendering import (
    CATALOGUE_LANGUAGES,
    Renderer,
    RenderRequest,
    catalogue,
    resolve_language,
)
from relais_notifier.texts.translations import message_catalogue_problems, platform_texts
from relais_notifier.texts.unsubscribe import unsubscribe_page
from relais_runtime.merchants import load_merchants
from relais_runtime.merchants.branding import Tone
from tests.conftest import REPO_ROOT

MERCHANTS = load_merchants(Path(REPO_ROOT) / "deploy" / "merchants")
RENDERER = Renderer()
NEW_LOCALES = ("de-DE", "es-ES", "it-IT", "nl-NL")
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
    template: str, *, locale: str, merchant: str = "velocity-sports", **changes: object
) -> RenderRequest:
    fields: dict[str, object] = {
        "template": template,
        "locale": locale,
        "merchant": MERCHANTS[merchant],
        "first_name": "Camille",
        "time_zone": "Europe/Berlin",
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


def test_the_notifier_speaks_the_six_languages() -> None:
    assert CATALOGUE_LANGUAGES == ("en", "fr", "de", "es", "it", "nl")


def test_every_language_file_has_every_english_key_with_its_placeholders() -> None:
    assert message_catalogue_problems() == []


def test_the_check_names_a_dropped_placeholder_and_a_missing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same check on a copy where German lost `{{ order_number }}` and a key."""
    source = Path(REPO_ROOT) / "services/notifier/src/relais_notifier/templates/messages"
    for file in source.glob("*.yaml"):
        (tmp_path / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
    german = (tmp_path / "de.yaml").read_text(encoding="utf-8")
    german = german.replace(
        'subject: "Ihr Paket {{ order_number }} wurde beschädigt"',
        'subject: "Ihr Paket wurde beschädigt"',
    ).replace('  cta: "Details ansehen"\n', "")
    (tmp_path / "de.yaml").write_text(german, encoding="utf-8")
    monkeypatch.setattr("relais_notifier.texts.translations.messages_directory", lambda: tmp_path)
    assert message_catalogue_problems() == [
        "de.yaml: damaged.subject: placeholder {order_number} missing",
        "de.yaml: action_completed.cta: missing",
    ]


@pytest.mark.parametrize(
    ("locale", "merchant_locales", "language"),
    [
        ("de-AT", ("fr", "de"), "de"),
        ("de-AT", ("fr", "en"), "fr"),
        ("nl-BE", ("fr", "nl"), "nl"),
        ("nl-BE", ("fr",), "fr"),
        ("fr-CA", ("en", "fr-FR"), "fr"),
        ("es-MX", ("en", "es"), "es"),
        ("it_CH", ("en", "it"), "it"),
        ("it_CH", ("en",), "en"),
        ("pt-PT", ("it", "en"), "it"),
        ("pt-PT", ("sv",), "en"),
        ("de", ("sv",), "de"),
        ("", ("nl",), "nl"),
    ],
)
def test_the_locale_falls_back_along_the_chain(
    locale: str, merchant_locales: tuple[str, ...], language: str
) -> None:
    assert resolve_language(locale, merchant_locales) == language


@pytest.mark.parametrize("template", all_templates())
@pytest.mark.parametrize("locale", NEW_LOCALES)
@pytest.mark.parametrize("merchant", ["velocity-sports", "maison-lumiere"])
def test_every_template_renders_in_every_new_language(
    template: str, locale: str, merchant: str
) -> None:
    """velocity-sports serves the six languages; maison-lumiere (fr, en) answers a
    German, Spanish, Italian or Dutch customer in its default, French."""
    served = MERCHANTS[merchant].locales
    expected = locale[:2] if locale[:2] in served else served[0]
    email = RENDERER.email(request(template, locale=locale, merchant=merchant))
    sms = RENDERER.sms(request(template, locale=locale, merchant=merchant))
    assert email.language == expected
    assert "#10467" in email.subject
    assert f'lang="{expected}"' in email.html
    assert "https://chat.example/c/TOKEN" in email.text
    assert "https://chat.example/c/TOKEN" in sms
    assert "None" not in email.text + sms
    english = RENDERER.email(request(template, locale="en-GB", merchant=merchant))
    assert email.subject != english.subject


def test_german_email_reads_german_with_german_dates_in_the_customers_zone() -> None:
    email = RENDERER.email(request("pickup_ready", locale="de-DE"))
    assert email.subject == "Ihre Bestellung #10467 liegt zur Abholung bereit"
    assert "Hallo Camille," in email.text
    # 18:30 UTC is 19:30 in Berlin.
    assert "bis Samstag, 14. November 2026 19:30 ab" in email.text
    assert "gilt bis Mittwoch, 2. Dezember 2026." in email.text
    late = RENDERER.email(request("delivery_late", locale="de-DE"))
    assert "spätestens am Dienstag, 3. November 2026" in late.text
    assert "Mondial Relay rechnet jetzt mit der Zustellung am Donnerstag, 5. November" in late.text


def test_austrian_customers_get_austrian_month_names() -> None:
    """de-AT falls back to the German catalogue, but Babel formats with de_AT."""
    january = FACTS.model_copy(update={"promised_delivery_by": date(2027, 1, 4)})
    email = RENDERER.email(request("delivery_late", locale="de-AT", facts=january))
    assert email.language == "de"
    assert "Montag, 4. Jänner 2027" in email.text


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("es-ES", "a más tardar para el martes, 3 de noviembre de 2026"),
        ("it-IT", "previsto entro martedì 3 novembre 2026"),
        ("nl-NL", "verwacht uiterlijk dinsdag 3 november 2026"),
    ],
)
def test_dates_are_written_the_way_each_language_writes_them(locale: str, expected: str) -> None:
    assert expected in RENDERER.email(request("delivery_late", locale=locale)).text


def test_amounts_follow_the_language() -> None:
    for locale, amount in (("de-DE", "45,50\u00a0€"), ("nl-NL", "€\u00a045,50")):
        assert amount in RENDERER.email(request("action_completed", locale=locale)).text


def test_an_informal_german_merchant_says_du_never_sie() -> None:
    """maison-lumiere's tone is informal: every German text it gets says du."""
    informal = catalogue("de", Tone.INFORMAL)
    texts = [
        text
        for entry in informal.values()
        for value in entry.values()
        for text in (value if isinstance(value, list) else [value])
    ]
    formal_words = re.compile(r"\b(Sie|Ihre?[mnrs]?|Ihnen)\b")
    assert [text for text in texts if formal_words.search(text)] == []
    serving_german = MERCHANTS["maison-lumiere"].model_copy(update={"locales": ("fr", "de")})
    shipped = replace(request("shipped", locale="de-DE"), merchant=serving_german)
    email = RENDERER.email(shipped)
    assert email.subject == "Deine Bestellung #10467 ist unterwegs!"
    assert "Hi Camille," in email.text


@pytest.mark.parametrize("locale", NEW_LOCALES)
@pytest.mark.parametrize("merchant", ["velocity-sports", "maison-lumiere"])
def test_every_sms_stays_gsm7_in_two_segments_with_a_real_link(locale: str, merchant: str) -> None:
    """Spanish á í ó ú, Italian È, Dutch ë are outside GSM 03.38: one of them would turn
    the text to UCS-2 and cost five segments instead of two."""
    links = LinkMaker(
        secrets=["s" * 40],
        hashes=CustomerHashes(pepper="p" * 40),
        public_chat_base_url="https://chat.relais.example",
        public_notifier_base_url="https://relais.example",
        max_age=timedelta(days=30),
        unsubscribe_max_age=timedelta(days=365),
    )
    link = links.link(
        merchant_id=merchant,
        kind=LinkKind.CHAT,
        subject="5c6e6606-90d8-5db2-b66c-7c8b15280148",
        now=datetime(2026, 11, 2, tzinfo=UTC),
    )
    for template in all_templates():
        body = RENDERER.sms(request(template, locale=locale, merchant=merchant, link=link.url))
        length = measure_sms(body)
        assert (template, length.encoding, length.segments) == (template, SmsEncoding.GSM7, 2)
    for reason in DelayReason:
        delayed = FACTS.model_copy(update={"delay_reason": reason})
        body = RENDERER.sms(
            request(
                "declared_delay", locale=locale, merchant=merchant, link=link.url, facts=delayed
            )
        )
        length = measure_sms(body)
        assert (reason, length.encoding, length.segments) == (reason, SmsEncoding.GSM7, 2)


@pytest.mark.parametrize(
    ("accept_language", "words"),
    [
        ("de-DE,de;q=0.9", ("Abmelden", "Möchten Sie keine E-Mails mehr")),
        ("nl-BE", ("Afmelden", "Wilt u geen e-mails meer")),
        ("es;q=1.0", ("Darme de baja", "¿Desea dejar de recibir")),
        ("it-IT", ("Annulla l&#39;iscrizione", "Non desidera più ricevere")),
    ],
)
def test_the_unsubscribe_page_speaks_the_browsers_language(
    accept_language: str, words: tuple[str, str]
) -> None:
    html = unsubscribe_page(
        RENDERER,
        accept_language=accept_language,
        merchant=MERCHANTS["velocity-sports"],
        key="confirm",
        form=True,
    )
    assert f'lang="{accept_language[:2]}"' in html
    for word in words:
        assert word in html


def test_link_errors_come_from_the_gettext_catalogues() -> None:
    assert platform_texts().languages == tuple(sorted(CATALOGUE_LANGUAGES))
    html = unsubscribe_page(
        RENDERER, accept_language="nl-NL", merchant=None, key="expired", form=False
    )
    assert "Deze link is verlopen." in html
    assert 'lang="nl"' in html
    german = unsubscribe_page(
        RENDERER, accept_language="de-CH", merchant=None, key="invalid", form=False
    )
    assert "Dieser Link ist ungültig." in german
