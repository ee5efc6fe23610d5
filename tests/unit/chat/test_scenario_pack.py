"""The default pack: every anomaly type covered, every scenario walked to every end,
every text rendered in English and in French with both tones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from relais_chat.domain import engine, events
from relais_chat.domain.engine import Accepted, Progress
from relais_chat.domain.scenarios import (
    EscalationNode,
    FormNode,
    QuestionNode,
    ResolutionNode,
    Scenario,
    SurveyNode,
    texts_of,
)
from relais_chat.ui.texts import render
from relais_contracts.actions import ActionType
from relais_contracts.catalogue import AnomalyType
from relais_contracts.topics.conversations import (
    CallbackRequested,
    ConversationPurpose,
    ResolutionChosen,
    ResolutionOutcome,
    SurveyAnswered,
)
from relais_runtime.merchants.branding import Tone
from tests.unit.chat.conftest import CONTEXT, VALID_INPUT

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
VALUES = {
    "first_name": "Camille",
    "merchant_name": "Maison Lumière",
    "bot_name": "Lou",
    "order_number": "ML-1042",
    "carrier": "Colissimo",
    "promised_date": "mardi 3 novembre 2026",
    "pickup_point_name": "Tabac de la Gare",
    "hold_deadline": "lundi 16 novembre, 19:00",
}


@dataclass(frozen=True)
class Ending:
    path: tuple[str, ...]
    progress: Progress
    outputs: tuple[engine.Output, ...]


def input_for(node: object) -> list[dict[str, str]]:
    if isinstance(node, QuestionNode):
        return [{"choice": choice.id} for choice in node.choices]
    if isinstance(node, FormNode):
        forms = [VALID_INPUT[node.field]]
        return [*forms, {"skip": "1"}] if node.optional else forms
    if isinstance(node, SurveyNode):
        return [VALID_INPUT["survey"]]
    if isinstance(node, EscalationNode):
        return [VALID_INPUT["escalation"]]
    raise AssertionError(f"no input for {node!r}")


def walk(scenario: Scenario) -> Iterator[Ending]:
    """Every path from the start to an end, taking every choice."""
    first = engine.begin(scenario)
    pending: list[tuple[Progress, tuple[engine.Output, ...], tuple[str, ...]]] = [
        (first.progress, first.outputs, (scenario.start,))
    ]
    while pending:
        progress, outputs, path = pending.pop()
        if progress.finished:
            yield Ending(path, progress, outputs)
            continue
        node = scenario.node(progress.node_id)
        for form in input_for(node):
            result = engine.submit(
                scenario,
                progress,
                node_id=progress.node_id,
                step=progress.step,
                form=form,
                context=CONTEXT,
            )
            assert isinstance(result, Accepted), (scenario.scenario_id, progress.node_id, result)
            pending.append(
                (result.progress, outputs + result.outputs, (*path, result.progress.node_id))
            )


def test_every_anomaly_type_has_a_default_scenario(pack: dict[str, Scenario]) -> None:
    for anomaly_type in AnomalyType:
        scenario = pack[f"default/{anomaly_type.value}"]
        assert anomaly_type in scenario.anomaly_types
    assert pack["default/survey"].purpose == "survey"


def test_the_pack_offers_every_remedy_a_merchant_offers(pack: dict[str, Scenario]) -> None:
    actions = {
        node.action
        for scenario in pack.values()
        for node in scenario.nodes.values()
        if isinstance(node, ResolutionNode) and node.action
    }
    outcomes = {
        node.outcome
        for scenario in pack.values()
        for node in scenario.nodes.values()
        if isinstance(node, ResolutionNode)
    }
    assert actions == {
        ActionType.RESHIP,
        ActionType.REFUND,
        ActionType.STORE_CREDIT,
        ActionType.ADDRESS_CHANGE,
        ActionType.REDELIVERY,
        ActionType.PICKUP_POINT_CHANGE,
        ActionType.RETURN_LABEL,
    }
    assert outcomes == set(ResolutionOutcome)
    assert all(
        any(isinstance(node, EscalationNode) for node in scenario.nodes.values())
        for scenario in pack.values()
        if scenario.purpose == "anomaly"
    ), "every anomaly scenario offers a callback"


@pytest.mark.parametrize(
    "scenario_id", [f"default/{t.value}" for t in AnomalyType] + ["default/survey"]
)
def test_every_path_reaches_an_end_and_publishes_valid_events(
    pack: dict[str, Scenario], scenario_id: str
) -> None:
    scenario = pack[scenario_id]
    survey = scenario.purpose == "survey"
    ref = events.ConversationRef(
        conversation_id=uuid4(),
        merchant_id="maison-lumiere",
        shipment_id="SHP-1",
        order_id="ORD-1",
        purpose=ConversationPurpose.SURVEY if survey else ConversationPurpose.ANOMALY,
        subject_id=uuid4(),
        anomaly_type=None if survey else scenario.anomaly_types[0],
        scenario_id=scenario.scenario_id,
        scenario_version=scenario.version,
        locale="fr-FR",
        time_zone="Europe/Paris",
    )
    endings = list(walk(scenario))
    reached = {ending.progress.node_id for ending in endings}
    terminals = {
        node_id
        for node_id in _reachable_ids(scenario)
        if scenario.node(node_id).kind in {"resolution", "escalation", "end"}
    }
    assert reached == terminals, "some end is never reached"
    for ending in endings:
        published = events.events_for(ref, ending.outputs, submission="1", now=NOW)
        final = scenario.node(ending.progress.node_id)
        kinds = [type(event) for event in published]
        if isinstance(final, ResolutionNode):
            assert kinds.count(ResolutionChosen) == 1
            chosen = next(e for e in published if isinstance(e, ResolutionChosen))
            assert chosen.outcome is final.outcome
            assert (chosen.action.action if chosen.action else None) == final.action
        elif isinstance(final, EscalationNode):
            assert kinds.count(CallbackRequested) == 1
        else:
            assert kinds.count(SurveyAnswered) == 1


def _reachable_ids(scenario: Scenario) -> set[str]:
    from relais_chat.domain.scenarios import _reachable

    return _reachable(scenario)


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("tone", list(Tone))
def test_every_text_renders_in_every_language_and_tone(
    pack: dict[str, Scenario], language: str, tone: Tone
) -> None:
    for scenario in pack.values():
        for node_id, node in scenario.nodes.items():
            for where, text in texts_of(node):
                html = str(render(text, language=language, tone=tone, values=VALUES))
                assert html.strip(), (scenario.scenario_id, node_id, where)
                assert "{{" not in html


def test_french_tones_differ_where_the_customer_is_addressed(pack: dict[str, Scenario]) -> None:
    intro = pack["default/delivery_late"].node("hello").text
    formal = str(render(intro, language="fr", tone=Tone.FORMAL, values=VALUES))
    informal = str(render(intro, language="fr", tone=Tone.INFORMAL, values=VALUES))
    assert "Votre colis" in formal
    assert "Ton colis" in informal


def test_placeholders_are_escaped(pack: dict[str, Scenario]) -> None:
    intro = pack["default/lost"].node("hello").text
    html = str(
        render(intro, language="en", tone=Tone.FORMAL, values={"first_name": "<script>x</script>"})
    )
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
