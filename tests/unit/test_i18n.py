"""relais_runtime.i18n: the locale fallback chain, placeholders, gettext catalogues."""

from __future__ import annotations

from pathlib import Path

import pytest

from relais_runtime.i18n import (
    CatalogueError,
    compare_texts,
    fallback_chain,
    flatten,
    format_placeholders,
    jinja_placeholders,
    load_platform_texts,
    normalize_tag,
    pick_language,
    read_catalogue,
)

SIX = ("en", "fr", "de", "es", "it", "nl")


@pytest.mark.parametrize(
    ("tag", "normalized"),
    [
        ("de_at", "de-AT"),
        ("NL-be", "nl-BE"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("und", None),
        ("", None),
        ("*", None),
        ("de;q=0.9", None),
        (None, None),
    ],
)
def test_tags_are_normalized_to_bcp47(tag: str | None, normalized: str | None) -> None:
    assert normalize_tag(tag) == normalized


def test_the_chain_narrows_the_customer_then_the_merchant_then_english() -> None:
    assert fallback_chain("de-AT", ("fr-FR", "en")) == ["de-AT", "de", "fr-FR", "fr", "en"]
    assert fallback_chain("en-GB", ("en",)) == ["en-GB", "en"]
    assert fallback_chain(None, ()) == ["en"]


@pytest.mark.parametrize(
    ("locale", "available", "merchant", "picked"),
    [
        ("de-AT", SIX, ("fr",), "de"),
        ("nl-BE", SIX, ("fr",), "nl"),
        ("fr-CA", (*SIX, "fr-CA"), ("en",), "fr-CA"),
        ("fr-CA", (*SIX, "fr_CA"), ("en",), "fr_CA"),
        ("pt-PT", SIX, ("it", "en"), "it"),
        ("pt-PT", SIX, ("pt", "es"), "es"),
        ("pt-PT", SIX, ("sv",), "en"),
        ("garbage!", SIX, ("nl",), "nl"),
        ("pt-PT", ("fr", "de"), ("sv",), "fr"),
    ],
)
def test_pick_language(
    locale: str, available: tuple[str, ...], merchant: tuple[str, ...], picked: str
) -> None:
    assert pick_language(locale, available, merchant) == picked


def test_nothing_available_is_an_error() -> None:
    with pytest.raises(ValueError, match="no language"):
        pick_language("en", ())


def test_placeholders_of_both_syntaxes() -> None:
    assert format_placeholders("{name} x {quantity} ({{literal}}) {item.price}") == {
        "name",
        "quantity",
        "item",
    }
    assert jinja_placeholders(
        "{{ carrier or 'The carrier' }}{% if promised_date %} by {{ promised_date }}{% endif %}"
    ) == {"carrier", "promised_date"}
    with pytest.raises(ValueError, match="bad template syntax"):
        jinja_placeholders("{{ carrier ")
    with pytest.raises(ValueError, match="Single '}'"):
        format_placeholders("oops }")


def test_compare_names_every_kind_of_problem() -> None:
    english = {"a": "Hello {{ name }}", "b": "Bye", "c": "{{ x }}", "d": "{{ y }}"}
    german = {"a": "Hallo", "c": "  ", "d": "{{ y }} {{ z }}", "e": "neu"}
    assert compare_texts(english, german, placeholders=jinja_placeholders) == [
        "e: not in the English catalogue",
        "a: placeholder {name} missing",
        "b: missing",
        "c: empty",
        "d: unknown placeholder {z}",
    ]
    assert (
        compare_texts(
            english, {"a": "Hallo {{ name }}"}, placeholders=jinja_placeholders, partial=True
        )
        == []
    )


def test_flatten_names_list_items_by_index() -> None:
    assert flatten({"shipped": {"body": ["a", "b"], "n": 3}, "x": "y"}) == {
        "shipped.body.0": "a",
        "shipped.body.1": "b",
        "x": "y",
    }


def write_po(root: Path, language: str, body: str, domain: str = "pages") -> Path:
    path = root / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n' + body,
        encoding="utf-8",
    )
    return path


def test_platform_texts_are_read_from_po_and_fall_back_to_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write_po(package, "en", 'msgid "greet"\nmsgstr "Hello {name}"\n\nmsgid "bye"\nmsgstr "Bye"\n')
    write_po(
        package,
        "de_AT",
        'msgid "greet"\nmsgstr "Servus {name}"\n\n#, fuzzy\nmsgid "bye"\nmsgstr "Baba"\n',
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    texts = load_platform_texts("fakepkg", "pages")
    assert texts.languages == ("de-AT", "en")
    assert texts.pick("de-AT-x-private", ("fr",)) == "de-AT"
    assert texts.say("de-AT", "greet", name="Anna") == "Servus Anna"
    # A fuzzy entry is not a translation: English it is.
    assert texts.say("de-AT", "bye") == "Bye"
    with pytest.raises(KeyError):
        texts.say("en", "nope")


def test_a_broken_po_file_is_named(tmp_path: Path) -> None:
    path = write_po(tmp_path, "fr", 'msgid "greet"\nmsgstr "Bonjour\n')
    with pytest.raises(CatalogueError, match=r"fr/LC_MESSAGES/pages\.po"):
        read_catalogue(path, language="fr", domain="pages")


def test_a_package_without_english_catalogue_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "emptypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CatalogueError, match=r"emptypkg: no locale/en/LC_MESSAGES/pages\.po"):
        load_platform_texts("emptypkg", "pages")
