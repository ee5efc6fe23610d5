"""Refused and returned parcels ask why, and the reason rides on the action; the chat
offers only what the merchant allows; a merchant-declared delay is told with its reason
and new date (issue 16, points 4 and 5)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from relais_chat.adapters.scenario_files import load_pack
from relais_chat.domain import engine, events
from relais_chat.domain.engine import Accepted, Progress, ResolutionReached
from relais_chat.domain.offers import offered_to
from relais_chat.domain.scenarios import QuestionNode, Scenario, ScenarioError
from relais_chat.domain.translations import LANGUAGES
from relais_chat.ui import delays
from relais_chat.ui.presentation import placeholder_values
from relais_chat.ui.texts import render
from relais_contracts.actions import ActionType, RefundRequest, ReturnReason
from relais_contracts.catalogue import AnomalyType
from relais_contracts.shipment import DeclaredDelay, DelayReason
from relais_contracts.topics import shipment_state
from relais_contracts.topics.conversations import ConversationPurpose, ResolutionChosen
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_runtime.merchants import MerchantConfig, load_merchant_file
from relais_runtime.merchants.branding import Tone
from tests.unit.chat.conftest import CONTEXT, REPO
from tests.unit.chat.test_scenario_pack import VALUES

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def answer(scenario: Scenario, progress: Progress, form: dict[str, str]) -> Accepted:
    result = engine.submit(
        scenario,
        progress,
        node_id=progress.node_id,
        step=progress.step,
        form=form,
        context=CONTEXT,
    )
    assert isinstance(result, Accepted), (progress.node_id, result)
    return result


def walk(scenario: Scenario, *forms: dict[str, str]) -> Accepted:
    result = engine.begin(scenario)
    for form in forms:
        result = answer(scenario, result.progress, form)
    return result


def resolution_of(result: Accepted) -> ResolutionReached:
    reached = [output for output in result.outputs if isinstance(output, ResolutionReached)]
    assert len(reached) == 1, result.outputs
    return reached[0]


def choices(scenario: Scenario, node_id: str) -> list[str]:
    node = scenario.node(node_id)
    assert isinstance(node, QuestionNode)
    return [choice.id for choice in node.choices]


# Asking why


@pytest.mark.parametrize("scenario_id", ["default/refused", "default/returned_to_sender"])
def test_both_scenarios_ask_every_reason_then_an_optional_comment(
    pack: dict[str, Scenario], scenario_id: str
) -> None:
    scenario = pack[scenario_id]
    assert scenario.asks_why is not None
    assert choices(scenario, scenario.asks_why.question) == [r.value for r in ReturnReason]
    assert set(scenario.languages) == set(LANGUAGES)


def test_a_refusal_reason_and_comment_ride_on_the_refund(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/refused"]
    result = walk(
        scenario,
        {"choice": "yes_refused"},
        {"choice": "arrived_too_late"},
        {"text": "Trop tard pour l'anniversaire"},
        {"choice": "refund"},
    )
    reached = resolution_of(result)
    assert reached.action is ActionType.REFUND
    assert reached.params == {
        "customer_reason": {
            "reason": "arrived_too_late",
            "comment": "Trop tard pour l'anniversaire",
        }
    }
    ref = events.ConversationRef(
        conversation_id=uuid4(),
        merchant_id="maison-lumiere",
        shipment_id="ML-1",
        order_id="ML-1",
        purpose=ConversationPurpose.ANOMALY,
        subject_id=uuid4(),
        anomaly_type=AnomalyType.REFUSED,
        scenario_id=scenario.scenario_id,
        scenario_version=scenario.version,
        locale="fr-FR",
        time_zone="Europe/Paris",
    )
    (chosen,) = [
        e
        for e in events.events_for(ref, result.outputs, submission="3", now=NOW)
        if isinstance(e, ResolutionChosen)
    ]
    assert isinstance(chosen.action, RefundRequest)
    assert chosen.action.customer_reason is not None
    assert chosen.action.customer_reason.reason is ReturnReason.ARRIVED_TOO_LATE


def test_a_skipped_comment_leaves_the_reason_alone(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/returned_to_sender"]
    result = walk(
        scenario,
        {"choice": "wrong_item"},
        {"skip": "1"},
        {"choice": "reship"},
        {"choice": "same_address"},
    )
    reached = resolution_of(result)
    assert reached.action is ActionType.RESHIP
    assert reached.params == {"customer_reason": {"reason": "wrong_item", "comment": None}}


def test_no_reason_when_the_customer_did_not_refuse_it(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/refused"]
    result = walk(scenario, {"choice": "not_me"}, {"choice": "reship"}, {"choice": "same_address"})
    assert resolution_of(result).params == {}


ASKS = """
anomaly_types: [refused]
languages: [en]
asks_why: {question: why, comment: note}
start: why
nodes:
  why:
    kind: question
    text: {en: "Why?"}
    choices:
      - {id: changed_mind, label: {en: Changed my mind}, next: note}
  note:
    kind: form
    field: text
    optional: true
    text: {en: "Anything to add?"}
    next: done
  done:
    kind: resolution
    outcome: execute_action
    action: refund
    text: {en: Done}
"""


def load(tmp_path: Path, text: str) -> dict[str, Scenario]:
    pack = tmp_path / "acme"
    pack.mkdir(exist_ok=True)
    (pack / "refused.yaml").write_text(text, encoding="utf-8")
    return load_pack([pack])


def test_a_scenario_asking_why_loads(tmp_path: Path) -> None:
    assert load(tmp_path, ASKS)["acme/refused"].asks_why is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("id: changed_mind", "id: too_expensive"),
            "choice 'too_expensive' of 'why' is not a reason",
        ),
        (("question: why,", "question: note,"), "question 'note' is not a question node"),
        (("optional: true", "optional: false"), "comment 'note' is not an optional text form"),
    ],
)
def test_a_wrong_reason_question_is_refused_naming_the_file(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(ScenarioError) as error:
        load(tmp_path, ASKS.replace(*change))
    assert str(tmp_path / "acme" / "refused.yaml") in str(error.value)
    assert f"asks_why: {message}" in str(error.value)


# What the merchant allows


def test_choices_leading_only_to_refused_actions_are_hidden(pack: dict[str, Scenario]) -> None:
    scenario = offered_to(pack["default/refused"], [ActionType.REFUND])
    assert choices(scenario, "after_refusal") == ["refund", "callback"]
    assert choices(scenario, "still_wanted") == ["callback"]
    assert choices(scenario, "why") == [r.value for r in ReturnReason]


def test_a_hidden_choice_is_refused_if_submitted(pack: dict[str, Scenario]) -> None:
    scenario = offered_to(pack["default/refused"], [ActionType.REFUND])
    start = walk(scenario, {"choice": "yes_refused"}, {"choice": "other"}, {"skip": "1"})
    result = engine.submit(
        scenario,
        start.progress,
        node_id=start.progress.node_id,
        step=start.progress.step,
        form={"choice": "store_credit"},
        context=CONTEXT,
    )
    assert isinstance(result, engine.Rejected)


def test_everything_allowed_or_no_actions_section_changes_nothing(
    pack: dict[str, Scenario],
) -> None:
    scenario = pack["default/returned_to_sender"]
    assert offered_to(scenario, None) is scenario
    everything = offered_to(scenario, list(ActionType))
    assert choices(everything, "choose") == choices(scenario, "choose")


# A merchant-declared delay


def lumiere() -> MerchantConfig:
    return load_merchant_file(REPO / "deploy" / "merchants" / "maison-lumiere.yaml")


def state_with(delay: DeclaredDelay | None) -> ShipmentStateChanged:
    topic = shipment_state.TOPIC
    name = "ShipmentStateChanged-colissimo-out-for-delivery.json"
    state = topic.decode((topic.examples_dir() / name).read_bytes())
    assert isinstance(state, ShipmentStateChanged)
    return state.model_copy(
        update={"declared_delay": delay, "promised_delivery_by": date(2026, 11, 4)}
    )


DECLARED = DeclaredDelay(
    reason=DelayReason.STOCK,
    declared_at=NOW,
    new_ship_by=datetime(2026, 11, 5, 23, 30, tzinfo=UTC),
    new_delivery_by=date(2026, 11, 9),
)


def values_for(delay: DeclaredDelay | None, locale: str) -> dict[str, Any]:
    state = state_with(delay)
    return placeholder_values(
        merchant=lumiere(), context=state.context(), state=state, locale=locale, zone="Europe/Paris"
    )


def test_the_declared_reason_and_new_dates_fill_their_placeholders() -> None:
    values = values_for(DECLARED, "fr-FR")
    assert values["delay_reason"] == "un article est en rupture de stock"
    assert values["new_delivery_date"] == "lundi 9 novembre 2026"
    assert values["new_ship_date"] == "vendredi 6 novembre 2026", "the customer's day (Paris)"
    undeclared = values_for(None, "fr-FR")
    assert (undeclared["delay_reason"], undeclared["new_ship_date"]) == ("", "")


def test_every_delay_reason_has_words_in_every_language() -> None:
    for language in LANGUAGES:
        assert set(delays.REASON_CLAUSES[language]) == set(DelayReason), language


@pytest.mark.parametrize("scenario_id", ["default/delivery_late", "default/preparation_delay"])
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("tone", list(Tone))
def test_a_declared_delay_is_told_with_its_reason_and_new_date_not_as_a_broken_promise(
    pack: dict[str, Scenario], scenario_id: str, language: str, tone: Tone
) -> None:
    hello = pack[scenario_id].node("hello").text
    declared = {**VALUES, **values_for(DECLARED, language)}
    told = str(render(hello, language=language, tone=tone, values=declared))
    assert declared["delay_reason"] in told
    assert declared["new_delivery_date"] in told
    assert declared["promised_date"] not in told
    only_ship = DECLARED.model_copy(update={"new_delivery_by": None})
    shipping = {**VALUES, **values_for(only_ship, language)}
    assert shipping["new_ship_date"] in str(
        render(hello, language=language, tone=tone, values=shipping)
    )
    undeclared = str(render(hello, language=language, tone=tone, values=VALUES))
    assert declared["delay_reason"] not in undeclared
