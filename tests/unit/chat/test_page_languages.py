"""One language rule for the chat's pages and conversations (and the notifier's
messages): the customer's locale along the fallback chain, among the languages the
merchant serves; the pages' words from the gettext catalogues."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from relais_chat.domain.conversation import customer_locale
from relais_chat.handlers import accepted_tags, lookup_language
from relais_chat.ui import words
from relais_contracts.topics import shipment_state
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_notifier.texts.rendering import resolve_language
from relais_runtime.i18n import customer_language
from relais_runtime.merchants import MerchantConfig, load_merchant_file
from tests.unit.chat.conftest import REPO


def merchant(*locales: str) -> MerchantConfig:
    lumiere = load_merchant_file(REPO / "deploy" / "merchants" / "maison-lumiere.yaml")
    return lumiere.model_copy(update={"locales": locales})


def state_of(locale: str) -> ShipmentStateChanged:
    topic = shipment_state.TOPIC
    name = "ShipmentStateChanged-colissimo-out-for-delivery.json"
    state: ShipmentStateChanged = topic.decode((topic.examples_dir() / name).read_bytes())
    return state.model_copy(
        update={"customer": state.customer.model_copy(update={"locale": locale})}
    )


@pytest.mark.parametrize(
    ("customer", "served", "language"),
    [
        ("de-AT", ("fr", "de"), "de"),  # the merchant serves German: German
        ("pt-PT", ("fr", "de"), "fr"),  # no Portuguese anywhere: the merchant's default
        ("de-AT", ("fr", "en"), "fr"),  # the merchant does not serve German: its default
        ("nl-BE", ("en", "nl"), "nl"),
        ("en-GB", ("de", "en"), "en"),
        ("de_at", ("it", "de-AT"), "de"),  # a regional merchant locale serves its language
        (None, ("es", "en"), "es"),
    ],
)
def test_the_customer_reads_a_language_the_merchant_serves(
    customer: str | None, served: tuple[str, ...], language: str
) -> None:
    assert customer_language(customer, served) == language
    assert words.ui_language(customer, served) == language
    assert resolve_language(customer or "", served) == language  # the notifier, the same


def test_the_conversation_keeps_the_customers_own_locale_when_it_is_served() -> None:
    assert customer_locale(merchant("fr", "de"), state_of("de-AT")) == "de-AT"
    assert customer_locale(merchant("fr", "de"), state_of("pt-PT")) == "fr"
    assert customer_locale(merchant("en-GB", "fr"), state_of("de-DE")) == "en-GB"
    assert customer_locale(merchant("it", "de"), None) == "it"


def test_the_pages_offer_the_languages_the_merchant_serves_default_first() -> None:
    assert words.page_languages(("de-AT", "fr", "de", "pt", "en-GB")) == ("de", "fr", "en")


def request_for(query: str = "", accept_language: str = "") -> Request:
    headers = [(b"accept-language", accept_language.encode())] if accept_language else []
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/track/maison-lumiere",
            "query_string": query.encode(),
            "headers": headers,
        }
    )


@pytest.mark.parametrize(
    ("query", "accept_language", "language"),
    [
        ("lang=es", "de-AT", "es"),  # the switch wins over the browser
        ("lang=pt", "de-AT,fr;q=0.5", "de"),  # a language not served is ignored
        ("", "de-AT,fr;q=0.5", "de"),
        ("", "pt-BR, fr;q=0.4, es;q=0.8", "es"),  # by weight, not by position
        ("", "pt-BR, *;q=0.5", "fr"),  # nothing served: the merchant's default
        ("", "de;q=0, es", "es"),  # q=0 means "not this one"
        ("", "", "fr"),
    ],
)
def test_the_lookup_page_follows_the_same_rule(
    query: str, accept_language: str, language: str
) -> None:
    served = merchant("fr", "de", "es")
    assert lookup_language(request_for(query, accept_language), served) == language


def test_accept_language_is_read_by_weight() -> None:
    assert accepted_tags("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == [
        "fr-CH",
        "fr",
        "en",
        "de",
    ]
    assert accepted_tags("de;q=abc, nl") == ["nl"]


def test_every_language_has_every_word_with_its_placeholders() -> None:
    texts = words.platform_texts()
    assert set(texts.languages) == set(words.LANGUAGES)
    assert words.check_catalogues() == []
    assert words.say("de", "parcel_of", index=1, count=2) == "Paket 1 von 2"
    assert words.say("nl", "stage_delivered") == "Bezorgd"
    assert words.say("es", "lookup_submit") == "Seguir mi pedido"
    assert words.say("it", "substatus_delivered_to_neighbour") == (
        "Il suo pacco è stato consegnato a un vicino."
    )


def test_a_missing_catalogue_stops_the_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(words, "LANGUAGES", (*words.LANGUAGES, "pt"))
    assert words.check_catalogues() == ["relais_chat: locale/pt/LC_MESSAGES/chat.po is missing"]
