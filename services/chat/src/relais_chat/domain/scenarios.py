"""Declarative scenarios: a decision tree of nodes, one YAML file per scenario.

Rules (checked at load; any failure stops start-up with ScenarioError naming the
file and the node):
- every node is reachable from `start`; every non-terminal node leads somewhere
  (no dead end); every `next` names an existing node;
- terminal nodes are `resolution` (the customer's choice: an outcome and, for
  execute_action, an action of relais_contracts.actions), `escalation` (a callback
  request to a human) and `end`;
- a resolution's parameters name the form nodes whose answers fill them, of the
  right field kind; an unknown action or parameter is an error;
- a scenario declares languages among translations.LANGUAGES (en, fr, de, es, it, nl);
  every text has every language the scenario declares (and, in any language, both
  tones unless one text serves both); placeholders are limited to
  translations.PLACEHOLDERS, and a German, Spanish, Italian or Dutch text has exactly
  the English text's placeholders;
- `asks_why` names a question whose choice ids are relais_contracts.actions.ReturnReason
  values and, optionally, an optional text form for the customer's comment; their answers
  fill `customer_reason` of every reship, refund or store credit the scenario resolves;
- a scenario's `purpose` is `anomaly` (it names the anomaly types it answers), `survey`
  (a CSAT, no resolution) or `broadcast` (opened from a merchant's broadcast, about
  no anomaly: it names no anomaly types);
- a file may `include` shared fragments (files starting with `_`): their nodes join
  the scenario, and only those the scenario uses need to be reachable.
A scenario's id is `<pack directory>/<file stem>`, e.g. `default/delivery_late`.
Reading the files is relais_chat.adapters.scenario_files' job; this module only checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relais_chat.domain.translations import LANGUAGES, validate_text
from relais_contracts.actions import ActionType, ReturnReason
from relais_contracts.catalogue import AnomalyType
from relais_contracts.topics.conversations import ResolutionOutcome

TextValue = dict[str, Any]
ScenarioPurpose = Literal["anomaly", "survey", "broadcast"]


class ScenarioError(Exception):
    """A scenario file is invalid; the message names the file, the node and the reason."""


class FieldKind(StrEnum):
    ADDRESS = "address"
    PHONE = "phone"
    DATE = "date"
    SLOT = "slot"
    TEXT = "text"
    PICKUP_POINT = "pickup_point"


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: TextValue


class MessageNode(_Node):
    """Said by the bot; the conversation goes on to `next` by itself."""

    kind: Literal["message"]
    next: str


class InfoNode(_Node):
    """Shows the shipment's tracking timeline under the text, then goes on."""

    kind: Literal["info"]
    next: str


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    label: TextValue
    next: str


class QuestionNode(_Node):
    """A closed question: the customer picks one choice."""

    kind: Literal["question"]
    choices: tuple[Choice, ...] = Field(min_length=1, max_length=8)


class FormNode(_Node):
    """One typed input (address, phone, date, slot, free text, pickup point)."""

    kind: Literal["form"]
    field: FieldKind
    optional: bool = False
    next: str


class SurveyNode(_Node):
    """CSAT 1-5 and an optional comment."""

    kind: Literal["survey"]
    next: str


class ResolutionNode(_Node):
    """Terminal: the customer's choice. `text` is the confirmation shown."""

    kind: Literal["resolution"]
    outcome: ResolutionOutcome
    action: str | None = None
    params: dict[str, str] = Field(default_factory=dict)


class EscalationNode(_Node):
    """Terminal: asks a phone number and a slot, then requests a callback. `text`
    is the question, `done` the confirmation."""

    kind: Literal["escalation"]
    done: TextValue


class EndNode(_Node):
    kind: Literal["end"]


Node = Annotated[
    MessageNode
    | InfoNode
    | QuestionNode
    | FormNode
    | SurveyNode
    | ResolutionNode
    | EscalationNode
    | EndNode,
    Field(discriminator="kind"),
]
TERMINAL_KINDS: Final = frozenset({"resolution", "escalation", "end"})
INPUT_KINDS: Final = frozenset({"question", "form", "survey", "escalation"})

ACTION_PARAMS: Final[dict[ActionType, dict[str, tuple[FieldKind, bool]]]] = {
    ActionType.RESHIP: {"address": (FieldKind.ADDRESS, False)},
    ActionType.REFUND: {},
    ActionType.STORE_CREDIT: {},
    ActionType.ADDRESS_CHANGE: {"address": (FieldKind.ADDRESS, True)},
    ActionType.REDELIVERY: {"day": (FieldKind.DATE, True), "slot": (FieldKind.SLOT, False)},
    ActionType.PICKUP_POINT_CHANGE: {"pickup_point": (FieldKind.PICKUP_POINT, True)},
    ActionType.RETURN_LABEL: {"reason": (FieldKind.TEXT, False)},
}
"""Per action a resolution may request: parameter -> (form field kind, required).
A callback is requested by an escalation node, never by a resolution."""


REASONED_ACTIONS: Final = frozenset({ActionType.RESHIP, ActionType.REFUND, ActionType.STORE_CREDIT})
"""Actions that carry the customer's reason (`customer_reason`) when the scenario asks why."""


class AsksWhy(BaseModel):
    """Where a scenario asks why the parcel was refused or sent back."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    question: str
    comment: str | None = None


class ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(default="1", max_length=64)
    purpose: ScenarioPurpose = "anomaly"
    anomaly_types: tuple[AnomalyType, ...] = ()
    languages: tuple[str, ...] = Field(min_length=1)
    include: tuple[str, ...] = ()
    asks_why: AsksWhy | None = None
    start: str
    nodes: dict[str, Node]

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [language for language in value if language not in LANGUAGES]
        if unknown:
            raise ValueError(f"{unknown} not among the scenario languages {list(LANGUAGES)}")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value


class Fragment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    nodes: dict[str, Node]


@dataclass(frozen=True)
class Scenario:
    scenario_id: str
    version: str
    purpose: ScenarioPurpose
    anomaly_types: tuple[AnomalyType, ...]
    languages: tuple[str, ...]
    start: str
    nodes: Mapping[str, Node]
    source: Path
    asks_why: AsksWhy | None = None

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def action_of(self, node: ResolutionNode) -> ActionType | None:
        return ActionType(node.action) if node.action else None


def successors(node: Node) -> list[str]:
    if isinstance(node, QuestionNode):
        return [choice.next for choice in node.choices]
    if isinstance(node, MessageNode | InfoNode | FormNode | SurveyNode):
        return [node.next]
    return []


def texts_of(node: Node) -> list[tuple[str, TextValue]]:
    found: list[tuple[str, TextValue]] = [("text", node.text)]
    if isinstance(node, QuestionNode):
        found.extend((f"choice {choice.id!r}", choice.label) for choice in node.choices)
    if isinstance(node, EscalationNode):
        found.append(("done", node.done))
    return found


def assemble(
    parsed: ScenarioFile, *, fragments: Mapping[str, Fragment], scenario_id: str, source: Path
) -> Scenario:
    """The scenario of one file with its included fragments' nodes, checked.

    A node of the file wins over a fragment's node of the same id; only the file's own
    nodes must be reachable. Every problem is raised at once, each naming `source`.
    """
    nodes = dict(parsed.nodes)
    own = set(nodes)
    for name in parsed.include:
        for node_id, node in fragments[name].nodes.items():
            nodes.setdefault(node_id, node)
    scenario = Scenario(
        scenario_id=scenario_id,
        version=parsed.version,
        purpose=parsed.purpose,
        anomaly_types=parsed.anomaly_types,
        languages=parsed.languages,
        start=parsed.start,
        nodes=nodes,
        source=source,
        asks_why=parsed.asks_why,
    )
    problems = check(scenario, own_nodes=own)
    if problems:
        raise ScenarioError("\n".join(f"{source}: {problem}" for problem in problems))
    return scenario


def check(scenario: Scenario, *, own_nodes: set[str]) -> list[str]:
    """Every structural, action and translation problem of a scenario."""
    if scenario.start not in scenario.nodes:
        return [f"start: no node {scenario.start!r}"]
    problems: list[str] = []
    if scenario.purpose == "anomaly" and not scenario.anomaly_types:
        problems.append("anomaly_types: an anomaly scenario names the types it answers")
    if scenario.purpose == "broadcast" and scenario.anomaly_types:
        problems.append("anomaly_types: a broadcast scenario answers no anomaly type")
    for node_id, node in scenario.nodes.items():
        problems.extend(_check_links(scenario, node_id, node))
        problems.extend(_check_node(scenario, node_id, node))
    reachable = _reachable(scenario)
    problems.extend(_check_paths(scenario, reachable, own_nodes=own_nodes))
    if scenario.purpose == "survey":
        problems.extend(_check_survey(scenario, reachable))
    if scenario.asks_why is not None:
        problems.extend(_check_asks_why(scenario, scenario.asks_why))
    return problems


def _check_asks_why(scenario: Scenario, asks: AsksWhy) -> list[str]:
    """The reason question offers only known reasons; the comment is an optional text."""
    problems = []
    question = scenario.nodes.get(asks.question)
    if not isinstance(question, QuestionNode):
        problems.append(f"asks_why: question {asks.question!r} is not a question node")
    else:
        known = {reason.value for reason in ReturnReason}
        problems.extend(
            f"asks_why: choice {choice.id!r} of {asks.question!r} is not a reason"
            f" ({', '.join(sorted(known))})"
            for choice in question.choices
            if choice.id not in known
        )
    if asks.comment is not None:
        comment = scenario.nodes.get(asks.comment)
        if not (
            isinstance(comment, FormNode) and comment.field is FieldKind.TEXT and comment.optional
        ):
            problems.append(f"asks_why: comment {asks.comment!r} is not an optional text form")
    return problems


def _check_links(scenario: Scenario, node_id: str, node: Node) -> list[str]:
    problems = []
    for target in successors(node):
        if target not in scenario.nodes:
            problems.append(f"node {node_id!r}: leads to unknown node {target!r}")
        elif target == node_id:
            problems.append(f"node {node_id!r}: leads to itself")
    return problems


def _check_paths(scenario: Scenario, reachable: set[str], *, own_nodes: set[str]) -> list[str]:
    """The file's own nodes are all reachable, and every reachable node can end."""
    unreachable = [
        f"node {node_id!r}: unreachable from {scenario.start!r}"
        for node_id in sorted(own_nodes - reachable)
    ]
    dead_ends = [
        f"node {node_id!r}: dead end (no path to a resolution or an end)"
        for node_id in sorted(reachable)
        if not _reaches_terminal(scenario, node_id)
    ]
    return unreachable + dead_ends


def _check_survey(scenario: Scenario, reachable: set[str]) -> list[str]:
    """A survey asks for a CSAT and resolves nothing."""
    nodes = scenario.nodes
    problems = []
    if not any(isinstance(nodes[node_id], SurveyNode) for node_id in reachable):
        problems.append("a survey scenario needs a survey node")
    problems.extend(
        f"node {node_id!r}: a survey has no anomaly to resolve"
        for node_id in sorted(reachable)
        if isinstance(nodes[node_id], ResolutionNode)
    )
    return problems


def _check_node(scenario: Scenario, node_id: str, node: Node) -> list[str]:
    problems = [
        f"node {node_id!r}: {where}: {problem}"
        for where, text in texts_of(node)
        for problem in validate_text(text, languages=scenario.languages)
    ]
    if isinstance(node, QuestionNode):
        ids = [choice.id for choice in node.choices]
        if len(set(ids)) != len(ids):
            problems.append(f"node {node_id!r}: duplicate choice ids")
    if isinstance(node, ResolutionNode):
        problems.extend(
            f"node {node_id!r}: {problem}" for problem in _check_resolution(scenario, node)
        )
    return problems


def _check_resolution(scenario: Scenario, node: ResolutionNode) -> list[str]:
    if node.outcome is not ResolutionOutcome.EXECUTE_ACTION:
        if node.action or node.params:
            return [f"outcome {node.outcome.value!r} takes no action or params"]
        return []
    if node.action is None:
        return ["outcome 'execute_action' needs an action"]
    try:
        action = ActionType(node.action)
    except ValueError:
        return [f"unknown action {node.action!r}"]
    if action not in ACTION_PARAMS:
        return [f"action {action.value!r} is requested by an escalation node, not a resolution"]
    expected = ACTION_PARAMS[action]
    problems = [
        f"unknown parameter {name!r} for {action.value}"
        for name in node.params
        if name not in expected
    ]
    for name, (kind, required) in expected.items():
        source = node.params.get(name)
        if source is None:
            if required:
                problems.append(f"action {action.value!r} needs parameter {name!r}")
            continue
        source_node = scenario.nodes.get(source)
        if not isinstance(source_node, FormNode) or source_node.field is not kind:
            problems.append(
                f"parameter {name!r} must name a {kind.value} form node, not {source!r}"
            )
    return problems


def _reachable(scenario: Scenario) -> set[str]:
    seen: set[str] = set()
    pending = [scenario.start]
    while pending:
        node_id = pending.pop()
        if node_id in seen or node_id not in scenario.nodes:
            continue
        seen.add(node_id)
        pending.extend(successors(scenario.nodes[node_id]))
    return seen


def _reaches_terminal(scenario: Scenario, start: str) -> bool:
    seen: set[str] = set()
    pending = [start]
    while pending:
        node_id = pending.pop()
        if node_id in seen or node_id not in scenario.nodes:
            continue
        seen.add(node_id)
        node = scenario.nodes[node_id]
        if node.kind in TERMINAL_KINDS:
            return True
        pending.extend(successors(node))
    return False
