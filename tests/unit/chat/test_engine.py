"""Submissions: stale ones change nothing, invalid ones explain, valid ones move on."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from relais_chat.domain import engine, events
from relais_chat.domain.engine import Accepted, Progress, Rejected, Stale
from relais_chat.domain.scenarios import Scenario
from relais_contracts import ids
from relais_contracts.actions import AddressChangeRequest, RedeliveryRequest
from relais_contracts.topics.conversations import (
    AnswerRecorded,
    ConversationPurpose,
    ResolutionChosen,
)
from tests.unit.chat.conftest import CONTEXT, VALID_INPUT
from tests.unit.chat.test_scenario_pack import NOW


def answer(scenario: Scenario, progress: Progress, form: dict[str, str]) -> engine.Submission:
    return engine.submit(
        scenario, progress, node_id=progress.node_id, step=progress.step, form=form, context=CONTEXT
    )


def test_opening_messages_are_passed_until_the_first_question(pack: dict[str, Scenario]) -> None:
    first = engine.begin(pack["default/delivery_late"])
    assert [turn.node_id for turn in first.progress.turns] == ["hello", "where", "choose"]
    assert first.progress.node_id == "choose"
    assert first.progress.step == 0
    assert first.outputs == ()


def test_a_replayed_submission_is_stale(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/failed_attempt"]
    first = engine.begin(scenario).progress
    moved = answer(scenario, first, {"choice": "redelivery"})
    assert isinstance(moved, Accepted)
    replay = engine.submit(
        scenario,
        moved.progress,
        node_id="choose",
        step=0,
        form={"choice": "callback"},
        context=CONTEXT,
    )
    assert isinstance(replay, Stale)


def test_an_unknown_choice_is_rejected(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/lost"]
    result = answer(scenario, engine.begin(scenario).progress, {"choice": "teleport"})
    assert result == Rejected({"choice": "choice_required"})


def test_nothing_is_accepted_once_finished(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/delivery_late"]
    done = answer(scenario, engine.begin(scenario).progress, {"choice": "wait"})
    assert isinstance(done, Accepted)
    assert done.progress.finished
    assert isinstance(answer(scenario, done.progress, {"choice": "wait"}), Stale)


def test_an_address_correction_carries_the_typed_address(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/address_problem"]
    chose = answer(scenario, engine.begin(scenario).progress, {"choice": "address"})
    assert isinstance(chose, Accepted)
    assert chose.progress.node_id == "new_address"
    bad = answer(
        scenario, chose.progress, {"line1": "1 rue X", "postal_code": "7", "city": "Paris"}
    )
    assert bad == Rejected({"postal_code": "postal_code_invalid"})
    typed = answer(scenario, chose.progress, VALID_INPUT["address"])
    assert isinstance(typed, Accepted)
    assert typed.progress.finished
    conversation = uuid4()
    ref = events.ConversationRef(
        conversation_id=conversation,
        merchant_id="maison-lumiere",
        shipment_id="SHP-1",
        order_id="ORD-1",
        purpose=ConversationPurpose.ANOMALY,
        subject_id=uuid4(),
        anomaly_type=scenario.anomaly_types[0],
        scenario_id=scenario.scenario_id,
        scenario_version="1",
        locale="fr",
        time_zone="Europe/Paris",
    )
    published = events.events_for(ref, typed.outputs, submission="1", now=NOW)
    recorded, chosen = published
    assert isinstance(recorded, AnswerRecorded)
    assert recorded.event_id == ids.answer_id(conversation, "new_address", "1")
    assert recorded.answer.address is not None
    assert recorded.answer.address.postal_code == "75011"
    assert isinstance(chosen, ResolutionChosen)
    assert chosen.event_id == ids.resolution_id(conversation)
    assert isinstance(chosen.action, AddressChangeRequest)
    assert chosen.action.address.city == "Paris"


def test_a_redelivery_carries_the_chosen_day(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/failed_attempt"]
    chose = answer(scenario, engine.begin(scenario).progress, {"choice": "redelivery"})
    assert isinstance(chose, Accepted)
    typed = answer(scenario, chose.progress, {"day": "2026-11-04"})
    assert isinstance(typed, Accepted)
    resolution = typed.outputs[-1]
    assert isinstance(resolution, engine.ResolutionReached)
    assert resolution.params == {"day": "2026-11-04"}
    action = events._ACTION.validate_python({"action": "redelivery", **resolution.params})
    assert action == RedeliveryRequest(day=date(2026, 11, 4))


def test_progress_survives_a_json_round_trip(pack: dict[str, Scenario]) -> None:
    scenario = pack["default/lost"]
    progress = engine.begin(scenario).progress
    assert Progress.from_json(progress.to_json()) == progress
