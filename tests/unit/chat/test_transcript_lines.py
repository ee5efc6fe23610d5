"""The transcript the desk receives (said_lines): the bubbles the page shows, as plain
text, each stamped with when it was shown, in the customer's language."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from relais_chat.domain import engine
from relais_chat.domain.engine import Accepted, Progress
from relais_chat.domain.scenarios import QuestionNode, Scenario
from relais_chat.ui import words
from relais_chat.ui.transcript import Reader, Voice, said_lines
from relais_contracts.transcript import MAX_LINES, Speaker
from relais_runtime.merchants.branding import Tone
from tests.unit.chat.conftest import CONTEXT, VALID_INPUT

STARTED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
VALUES = {"first_name": "Camille", "order_number": "#1042", "carrier": "Colissimo"}


def voice(language: str) -> Voice:
    return Voice(language, Tone.FORMAL, VALUES)


def reader(locale: str) -> Reader:
    return Reader(locale, "Europe/Paris", partial(words.say, words.ui_language(locale)))


def to_callback(scenario: Scenario) -> Progress:
    """failed_attempt: choose callback, then give the escalation form."""
    progress = engine.begin(scenario).progress
    for form in ({"choice": "callback"}, VALID_INPUT["escalation"]):
        moved = engine.submit(
            scenario,
            progress,
            node_id=progress.node_id,
            step=progress.step,
            form=form,
            context=CONTEXT,
        )
        assert isinstance(moved, Accepted), moved
        progress = moved.progress
    return progress


def lines_of(progress: Progress, scenario: Scenario, locale: str, answered: int = 2) -> list:
    answered_at = [STARTED + timedelta(minutes=n + 1) for n in range(answered)]
    return list(
        said_lines(
            progress,
            scenario,
            say=voice(locale[:2]),
            reader=reader(locale),
            started_at=STARTED,
            answered_at=answered_at,
        )
    )


def test_bot_and_customer_lines_alternate_in_the_order_shown(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/failed_attempt"]
    lines = lines_of(to_callback(scenario), scenario, "fr-FR")
    speakers = [line.speaker for line in lines]
    first_answer = speakers.index(Speaker.CUSTOMER)
    assert set(speakers[:first_answer]) == {Speaker.BOT}
    assert speakers.count(Speaker.CUSTOMER) == 2
    assert lines[first_answer].text == "Être rappelé"
    assert speakers[-1] is Speaker.BOT  # the escalation's confirmation
    assert Speaker.AGENT not in speakers


def test_each_line_is_stamped_when_it_was_shown(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/failed_attempt"]
    lines = lines_of(to_callback(scenario), scenario, "en-GB")
    first_answer = [line.speaker for line in lines].index(Speaker.CUSTOMER)
    assert {line.at for line in lines[:first_answer]} == {STARTED}
    assert lines[first_answer].at == STARTED + timedelta(minutes=1)
    assert lines[first_answer + 1].at == STARTED + timedelta(minutes=1)  # the bot's next words
    assert lines[-1].at == STARTED + timedelta(minutes=2)
    assert [line.at for line in lines] == sorted(line.at for line in lines)


def test_lines_are_plain_text_in_the_customers_language(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/failed_attempt"]
    english = lines_of(to_callback(scenario), scenario, "en-GB")
    french = lines_of(to_callback(scenario), scenario, "fr-FR")
    assert len(english) == len(french)
    assert english[0].text != french[0].text
    for line in english + french:
        assert "<" not in line.text
        assert line.text
    said = " ".join(line.text for line in english)
    assert "+33612345678" in said.replace(" ", "") or "612345678" in said.replace(" ", "")
    assert "Call me back" in said


def test_missing_answer_times_fall_back_to_the_start(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/failed_attempt"]
    lines = lines_of(to_callback(scenario), scenario, "fr-FR", answered=0)
    assert {line.at for line in lines} == {STARTED}


def test_an_opened_conversation_is_the_bots_words_only(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/delivery_late"]
    lines = lines_of(engine.begin(scenario).progress, scenario, "fr-FR", answered=0)
    assert [line.speaker for line in lines] == [Speaker.BOT] * 3
    assert len(lines) <= MAX_LINES


def test_a_choice_the_merchant_no_longer_offers_still_shows(pack: dict[str, Scenario]) -> None:
    """Picked, then hidden by a change of the merchant's allowed actions: the page redraws."""
    scenario = pack["default/failed_attempt"]
    progress = to_callback(scenario)
    nodes = dict(scenario.nodes)
    for node_id, node in scenario.nodes.items():
        if isinstance(node, QuestionNode) and len(node.choices) > 1:
            kept = tuple(choice for choice in node.choices if choice.id != "callback")
            nodes[node_id] = node.model_copy(update={"choices": kept})
    lines = lines_of(progress, replace(scenario, nodes=nodes), "en-GB")
    assert any(line.text == "callback" for line in lines), [line.text for line in lines]
