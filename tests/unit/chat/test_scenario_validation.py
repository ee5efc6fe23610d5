"""A bad scenario stops start-up with a message naming the file and the node."""

from __future__ import annotations

from pathlib import Path

import pytest

from relais_chat.adapters.scenario_files import load_pack
from relais_chat.domain.scenarios import ScenarioError

GOOD = """
anomaly_types: [delivery_late]
languages: [en, fr]
start: hello
nodes:
  hello:
    kind: message
    text: {en: "Hello {{ first_name }}", fr: {formal: "Bonjour", informal: "Salut"}}
    next: choose
  choose:
    kind: question
    text: {en: "Choose", fr: "Choisissez"}
    choices:
      - {id: wait, label: {en: Wait, fr: Attendre}, next: ok}
      - {id: refund, label: {en: Refund, fr: Rembourser}, next: refund}
  ok:
    kind: resolution
    outcome: wait
    text: {en: OK, fr: OK}
  refund:
    kind: resolution
    outcome: execute_action
    action: refund
    text: {en: Refunded, fr: Remboursé}
"""


def write(tmp_path: Path, text: str) -> Path:
    pack = tmp_path / "acme"
    pack.mkdir(exist_ok=True)
    (pack / "late.yaml").write_text(text)
    return pack


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as error:
        load_pack([write(tmp_path, text)])
    message = str(error.value)
    assert str(tmp_path / "acme" / "late.yaml") in message
    return message


def test_a_good_scenario_loads_with_its_pack_id(tmp_path: Path) -> None:
    scenarios = load_pack([write(tmp_path, GOOD)])
    assert list(scenarios) == ["acme/late"]


def test_unreachable_node(tmp_path: Path) -> None:
    text = (
        GOOD
        + """
  orphan:
    kind: end
    text: {en: Bye, fr: Au revoir}
"""
    )
    assert "node 'orphan': unreachable from 'hello'" in problem(tmp_path, text)


def test_dead_end(tmp_path: Path) -> None:
    text = (
        GOOD.replace("next: ok}", "next: loop}")
        + """
  loop:
    kind: message
    text: {en: Again, fr: Encore}
    next: back
  back:
    kind: message
    text: {en: Back, fr: Retour}
    next: loop
"""
    )
    message = problem(tmp_path, text)
    assert "node 'loop': dead end" in message
    assert "node 'back': dead end" in message


def test_next_to_an_unknown_node(tmp_path: Path) -> None:
    assert "node 'hello': leads to unknown node 'nowhere'" in problem(
        tmp_path, GOOD.replace("next: choose", "next: nowhere")
    )


def test_unknown_action(tmp_path: Path) -> None:
    assert "node 'refund': unknown action 'teleport'" in problem(
        tmp_path, GOOD.replace("action: refund", "action: teleport")
    )


def test_action_parameter_must_name_a_form_of_the_right_kind(tmp_path: Path) -> None:
    text = GOOD.replace("action: refund", "action: address_change\n    params: {address: hello}")
    assert "node 'refund': parameter 'address' must name a address form node" in problem(
        tmp_path, text
    )


def test_missing_translation(tmp_path: Path) -> None:
    text = GOOD.replace('text: {en: "Choose", fr: "Choisissez"}', 'text: {en: "Choose"}')
    assert "node 'choose': text: missing translation 'fr'" in problem(tmp_path, text)


def test_missing_tone(tmp_path: Path) -> None:
    text = GOOD.replace('fr: {formal: "Bonjour", informal: "Salut"}', 'fr: {formal: "Bonjour"}')
    assert "node 'hello': text: 'fr': give one text, or both" in problem(tmp_path, text)


def test_unknown_placeholder(tmp_path: Path) -> None:
    text = GOOD.replace("{{ first_name }}", "{{ password }}")
    assert "node 'hello': text: 'en': unknown placeholder 'password'" in problem(tmp_path, text)


def test_unknown_node_kind(tmp_path: Path) -> None:
    assert "node 'ok'" in problem(
        tmp_path,
        GOOD.replace("kind: resolution\n    outcome: wait", "kind: teleport\n    outcome: wait"),
    )


def test_not_yaml(tmp_path: Path) -> None:
    assert "not valid YAML" in problem(tmp_path, "nodes: [")
