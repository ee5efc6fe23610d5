"""Control characters in the chat's forms: refused next to the field when no keyboard types
them, folded when they are whitespace; what the forms produce is always valid contract
text (text areas keep their line breaks)."""

from __future__ import annotations

import pytest

from relais_chat.domain.forms import parse_callback, parse_csat, parse_field
from relais_chat.domain.scenarios import FieldKind
from relais_chat.ui.words import LANGUAGES, say
from relais_contracts.topics.conversations import Answer, AnswerKind
from tests.unit.chat.conftest import CONTEXT

ADDRESS = {"line1": "12 rue des Lilas", "postal_code": "69003", "city": "Lyon", "country": "FR"}


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x9b"])
def test_a_character_no_keyboard_types_is_refused_next_to_its_field(character: str) -> None:
    address = parse_field(FieldKind.ADDRESS, {**ADDRESS, "city": f"Ly{character}on"}, CONTEXT)
    text = parse_field(FieldKind.TEXT, {"text": f"Bonjour{character}"}, CONTEXT)
    survey = parse_csat({"csat": "4", "comment": character})
    callback = parse_callback(
        {"phone": "06 12 34 56 78", "day": "", "period": "morning", "note": character}, CONTEXT
    )

    assert address.errors == {"city": "control_characters"}
    assert text.errors == {"text": "control_characters"}
    assert survey.errors == {"comment": "control_characters"}
    assert callback.errors == {"note": "control_characters"}


def test_text_areas_keep_line_breaks_as_lf_and_fold_other_whitespace() -> None:
    parsed = parse_field(FieldKind.TEXT, {"text": " Porte bleue\r\n\tcode\x0b1234\r"}, CONTEXT)

    assert parsed.value == {"text": "Porte bleue\ncode 1234"}
    assert Answer(kind=AnswerKind.TEXT, text=parsed.value["text"]).text == "Porte bleue\ncode 1234"
    survey = parse_csat({"csat": "5", "comment": "Merci !\r\nTrès bien\r\n"})
    assert survey.value == {"csat": 5, "comment": "Merci !\nTrès bien"}


def test_one_line_fields_fold_line_breaks_and_tabs() -> None:
    parsed = parse_field(FieldKind.ADDRESS, {**ADDRESS, "line1": "12\true\r\ndes Lilas"}, CONTEXT)

    assert parsed.value is not None
    assert parsed.value["line1"] == "12 rue des Lilas"


def test_every_language_explains_the_refusal() -> None:
    for language in LANGUAGES:
        assert say(language, "control_characters") != "control_characters"
