"""A broadcast's chat: scenarios of purpose broadcast, the link naming one, its events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from relais_chat.adapters.scenario_files import load_pack, pack_directories
from relais_chat.domain import engine, events
from relais_chat.domain.scenarios import ScenarioError
from relais_contracts.topics.conversations import (
    AnswerRecorded,
    ConversationPurpose,
    EntryPoint,
)
from relais_runtime.links import (
    BroadcastChat,
    broadcast_chat_subject,
    parse_broadcast_chat_subject,
)
from tests.unit.chat.conftest import CONTEXT

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
BROADCAST = """
purpose: broadcast
languages: [en]
start: choose
nodes:
  choose:
    kind: question
    text: {en: "Choose"}
    choices:
      - {id: wait, label: {en: Wait}, next: ok}
  ok:
    kind: resolution
    outcome: wait
    text: {en: OK}
"""


def write(tmp_path: Path, text: str) -> Path:
    pack = tmp_path / "acme"
    pack.mkdir(exist_ok=True)
    (pack / "strike.yaml").write_text(text)
    return pack


def test_a_broadcast_scenario_names_no_anomaly_type(tmp_path: Path) -> None:
    assert load_pack([write(tmp_path, BROADCAST)])["acme/strike"].purpose == "broadcast"
    with pytest.raises(ScenarioError) as error:
        load_pack([write(tmp_path, "anomaly_types: [delivery_late]\n" + BROADCAST)])
    message = str(error.value)
    assert str(tmp_path / "acme" / "strike.yaml") in message
    assert "a broadcast scenario answers no anomaly type" in message


def test_an_unknown_purpose_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as error:
        load_pack([write(tmp_path, BROADCAST.replace("purpose: broadcast", "purpose: strike"))])
    assert "strike.yaml" in str(error.value)


def test_the_default_carrier_strike_offers_only_what_a_broadcast_can_carry_out() -> None:
    """Waiting and a callback: a choice that needs an action tied to an anomaly (refund,
    another pickup point) would record an answer that nobody carries out."""
    scenario = load_pack(pack_directories(None))["default/carrier_strike"]
    assert scenario.purpose == "broadcast"
    assert scenario.anomaly_types == ()
    assert scenario.languages == ("en", "fr", "de", "es", "it", "nl")
    question = scenario.node("choose")
    assert question.kind == "question"
    assert [choice.id for choice in question.choices] == ["wait", "callback"]


def test_a_broadcast_link_subject_names_its_message_scenario_and_shipment() -> None:
    chat = BroadcastChat(
        campaign_message_id=uuid4(), scenario_id="default/carrier_strike", shipment_id="S:1/a"
    )
    assert parse_broadcast_chat_subject(broadcast_chat_subject(chat)) == chat
    assert parse_broadcast_chat_subject(str(uuid4())) is None
    assert parse_broadcast_chat_subject("broadcast:not-a-uuid:default/x:S-1") is None
    assert parse_broadcast_chat_subject(f"broadcast:{uuid4()}:default/x") is None


def test_a_broadcast_conversation_starts_without_anomaly_and_records_the_choice() -> None:
    scenario = load_pack(pack_directories(None))["default/carrier_strike"]
    message_id = uuid4()
    ref = events.ConversationRef(
        conversation_id=uuid4(),
        merchant_id="acme",
        shipment_id="S-1",
        order_id="O-1",
        purpose=ConversationPurpose.ANOMALY,
        subject_id=message_id,
        anomaly_type=None,
        scenario_id=scenario.scenario_id,
        scenario_version=scenario.version,
        locale="fr-FR",
        time_zone="Europe/Paris",
        campaign_message_id=message_id,
    )
    started = events.started(ref, entry=EntryPoint.EMAIL_LINK, now=NOW)
    assert (started.campaign_message_id, started.anomaly_id) == (message_id, None)
    first = engine.begin(scenario)
    result = engine.submit(
        scenario,
        first.progress,
        node_id="choose",
        step=first.progress.step,
        form={"choice": "wait"},
        context=CONTEXT,
    )
    assert isinstance(result, engine.Accepted)
    published = events.events_for(ref, result.outputs, submission="1", now=NOW)
    assert [type(event) for event in published] == [AnswerRecorded]
    recorded = published[0]
    assert isinstance(recorded, AnswerRecorded)
    assert recorded.answer.choice_id == "wait"
