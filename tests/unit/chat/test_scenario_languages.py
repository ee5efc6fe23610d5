"""The default pack in every language it declares (en, fr, de, es, it, nl), and the
load-time check that refuses a scenario whose translation is missing or drops or
invents a placeholder, naming the file, the node and the language."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from relais_chat.adapters.scenario_files import DEFAULT_PACK, load_pack
from relais_chat.domain.scenarios import Scenario, ScenarioError, texts_of
from relais_chat.domain.translations import LANGUAGES, placeholders_of
from relais_chat.ui.texts import render
from relais_runtime.merchants.branding import Tone
from tests.unit.chat.test_scenario_pack import VALUES

NEW_LANGUAGES = ("de", "es", "it", "nl")
SCENARIO_FILES = sorted(path for path in DEFAULT_PACK.glob("*.yaml"))


def declared(path: Path) -> tuple[str, ...]:
    """A scenario's `languages`; a fragment (`_common.yaml`) serves every language."""
    if path.name.startswith("_"):
        return LANGUAGES
    return tuple(yaml.safe_load(path.read_text(encoding="utf-8"))["languages"])


def nodes_of(path: Path) -> Mapping[str, Any]:
    nodes: Mapping[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))["nodes"]
    return nodes


def texts_in(path: Path) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(node, where, text) for every text of the file, read as written."""
    for node_id, node in nodes_of(path).items():
        yield node_id, "text", node["text"]
        if "done" in node:
            yield node_id, "done", node["done"]
        for choice in node.get("choices", ()):
            yield node_id, f"choice {choice['id']!r}", choice["label"]


def variants(value: Any) -> list[str]:
    return list(value.values()) if isinstance(value, Mapping) else [value]


FILE_LANGUAGES = [
    pytest.param(path, language, id=f"{path.stem}-{language}")
    for path in SCENARIO_FILES
    for language in declared(path)
]


@pytest.mark.parametrize(("path", "language"), FILE_LANGUAGES)
def test_every_text_has_the_language_with_the_english_placeholders(
    path: Path, language: str
) -> None:
    for node_id, where, text in texts_in(path):
        assert language in text, f"{path.name}: node {node_id!r}: {where}: no {language!r}"
        value = text[language]
        if isinstance(value, Mapping):
            assert set(value) == {tone.value for tone in Tone}, (path.name, node_id, where)
        expected = placeholders_of(" ".join(variants(text["en"])))
        for variant in variants(value):
            assert variant.strip(), (path.name, node_id, where, language)
            assert placeholders_of(variant) == expected, (path.name, node_id, where, language)


@pytest.mark.parametrize(
    "path",
    [path for path in SCENARIO_FILES if not path.name.startswith("_")],
    ids=lambda path: path.stem,
)
def test_every_default_scenario_speaks_all_six_languages(path: Path) -> None:
    assert set(declared(path)) == set(LANGUAGES)


@pytest.mark.parametrize("language", NEW_LANGUAGES)
@pytest.mark.parametrize("tone", list(Tone))
def test_every_text_renders_in_the_new_languages_and_both_tones(
    pack: dict[str, Scenario], language: str, tone: Tone
) -> None:
    for scenario in pack.values():
        if language not in scenario.languages:
            continue
        for node_id, node in scenario.nodes.items():
            for where, text in texts_of(node):
                html = str(render(text, language=language, tone=tone, values=VALUES))
                assert html.strip(), (scenario.scenario_id, node_id, where)
                assert "{{" not in html
                assert html != str(render(text, language="en", tone=tone, values=VALUES)), (
                    scenario.scenario_id,
                    node_id,
                    where,
                    "still English",
                )


@pytest.mark.parametrize(
    ("language", "formal", "informal"),
    [
        ("de", "Ihr Paket", "Dein Paket"),
        ("es", "Su paquete", "Tu paquete"),
        ("it", "Il Suo pacco", "Il tuo pacco"),
        ("nl", "Uw pakket", "Je pakket"),
    ],
)
def test_the_tones_differ_where_the_customer_is_addressed(
    pack: dict[str, Scenario], language: str, formal: str, informal: str
) -> None:
    intro = pack["default/delivery_late"].node("hello").text
    assert formal in str(render(intro, language=language, tone=Tone.FORMAL, values=VALUES))
    assert informal in str(render(intro, language=language, tone=Tone.INFORMAL, values=VALUES))


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_punctuation_follows_each_language(path: Path) -> None:
    """No French space before ? ! : ; outside French; Spanish opens its ¿ and ¡."""
    for node_id, where, text in texts_in(path):
        for language in set(NEW_LANGUAGES) & set(text):
            for variant in variants(text[language]):
                for mark in "?!:;":
                    assert f" {mark}" not in variant, (path.name, node_id, where, language)
                if language == "es":
                    assert variant.count("¿") == variant.count("?"), (path.name, node_id, where)
                    assert variant.count("¡") == variant.count("!"), (path.name, node_id, where)


GERMAN = """
anomaly_types: [delivery_late]
languages: [en, de]
start: hello
nodes:
  hello:
    kind: question
    text:
      en: "Hello {{ first_name }}, order {{ order_number }} is late."
      de:
        formal: "Hallo {{ first_name }}, Ihre Bestellung {{ order_number }} verspätet sich."
        informal: "Hi {{ first_name }}, deine Bestellung {{ order_number }} verspätet sich."
    choices:
      - {id: wait, label: {en: Wait, de: Warten}, next: ok}
  ok:
    kind: resolution
    outcome: wait
    text: {en: OK, de: OK}
"""


def load(tmp_path: Path, text: str) -> dict[str, Scenario]:
    pack = tmp_path / "acme"
    pack.mkdir(exist_ok=True)
    (pack / "late.yaml").write_text(text, encoding="utf-8")
    return load_pack([pack])


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as error:
        load(tmp_path, text)
    message = str(error.value)
    assert str(tmp_path / "acme" / "late.yaml") in message
    return message


def test_a_german_scenario_with_both_tones_loads(tmp_path: Path) -> None:
    scenario = load(tmp_path, GERMAN)["acme/late"]
    assert scenario.languages == ("en", "de")


def test_a_missing_german_text_is_refused_naming_file_node_and_language(tmp_path: Path) -> None:
    text = GERMAN.replace("label: {en: Wait, de: Warten}", "label: {en: Wait}")
    assert "node 'hello': choice 'wait': missing translation 'de'" in refusal(tmp_path, text)


def test_a_missing_german_tone_is_refused(tmp_path: Path) -> None:
    text = "\n".join(line for line in GERMAN.splitlines() if "deine Bestellung" not in line)
    assert "node 'hello': text: 'de': give one text, or both 'formal' and 'informal'" in (
        refusal(tmp_path, text)
    )


def test_a_dropped_placeholder_is_refused_naming_file_node_language_and_tone(
    tmp_path: Path,
) -> None:
    text = GERMAN.replace("Ihre Bestellung {{ order_number }}", "Ihre Bestellung")
    message = refusal(tmp_path, text)
    assert (
        "node 'hello': text: 'de' formal: placeholder 'order_number' of the English text"
        " is missing" in message
    )
    assert "'de' informal" not in message


def test_an_invented_placeholder_is_refused(tmp_path: Path) -> None:
    text = GERMAN.replace("Hi {{ first_name }},", "Hi {{ first_name }} ({{ carrier }}),")
    assert (
        "node 'hello': text: 'de' informal: placeholder 'carrier' is not in the English text"
        in refusal(tmp_path, text)
    )


def test_a_misspelt_placeholder_is_refused_twice_over(tmp_path: Path) -> None:
    text = GERMAN.replace("Hallo {{ first_name }}", "Hallo {{ firstname }}")
    message = refusal(tmp_path, text)
    assert "node 'hello': text: 'de': unknown placeholder 'firstname'" in message
    assert "'de' formal: placeholder 'first_name' of the English text is missing" in message


def test_an_unknown_scenario_language_is_refused(tmp_path: Path) -> None:
    text = GERMAN.replace("languages: [en, de]", "languages: [en, de, pt]")
    assert "languages: Value error, ['pt'] not among the scenario languages" in (
        refusal(tmp_path, text)
    )


def test_a_text_in_an_unknown_language_is_refused(tmp_path: Path) -> None:
    text = GERMAN.replace("text: {en: OK, de: OK}", "text: {en: OK, de: OK, pt: OK}")
    assert "node 'ok': text: 'pt': not a scenario language" in refusal(tmp_path, text)


def test_french_keeps_its_rules_placeholders_may_differ_from_english(tmp_path: Path) -> None:
    """French texts predate the same-placeholders rule: only known placeholders."""
    text = GERMAN.replace("languages: [en, de]", "languages: [en, de, fr]").replace(
        "text: {en: OK, de: OK}", "text: {en: OK, de: OK, fr: OK}"
    )
    text = text.replace(
        "label: {en: Wait, de: Warten}", "label: {en: Wait, de: Warten, fr: Attendre}"
    )
    text = text.replace(
        '      de:\n        formal: "Hallo',
        '      fr: "Bonjour, votre commande a du retard."\n      de:\n        formal: "Hallo',
    )
    assert load(tmp_path, text)["acme/late"].languages == ("en", "de", "fr")
