"""Walking a scenario: where the conversation is, and what one submission does.

Rules:
- message and info nodes need no answer: the engine passes through them to the
  next node that asks something (question, form, survey, escalation) or ends
  (resolution, end); the transcript keeps every node passed;
- a submission is for one node at one step (`step` counts accepted answers): a
  submission for another node or an older step is stale and changes nothing, so a
  double click or a replayed form counts once;
- an invalid answer changes nothing and returns the errors by field;
- reaching a resolution yields the outcome and the action with its parameters
  taken from earlier form answers (and, when the scenario asks why, the customer's
  reason on a reship, refund or store credit); an escalation yields a callback request; a
  survey yields the CSAT; once finished, nothing more is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from relais_chat.domain.forms import (
    FormContext,
    is_empty,
    parse_callback,
    parse_csat,
    parse_field,
)
from relais_chat.domain.scenarios import (
    REASONED_ACTIONS,
    EndNode,
    EscalationNode,
    FieldKind,
    FormNode,
    InfoNode,
    MessageNode,
    Node,
    QuestionNode,
    ResolutionNode,
    Scenario,
    ScenarioError,
    SurveyNode,
)
from relais_contracts.actions import ActionType
from relais_contracts.topics.conversations import AnswerKind, ResolutionOutcome

FIELD_ANSWER_KIND = {
    FieldKind.ADDRESS: AnswerKind.ADDRESS,
    FieldKind.PHONE: AnswerKind.PHONE,
    FieldKind.DATE: AnswerKind.DATE,
    FieldKind.SLOT: AnswerKind.TIME_SLOT,
    FieldKind.TEXT: AnswerKind.TEXT,
    FieldKind.PICKUP_POINT: AnswerKind.ADDRESS,
}


@dataclass(frozen=True)
class Turn:
    """A node shown, and the customer's answer to it if it asked something."""

    node_id: str
    value: dict[str, Any] | None = None


@dataclass(frozen=True)
class Progress:
    node_id: str
    step: int
    turns: tuple[Turn, ...]
    finished: bool

    def answers(self) -> dict[str, dict[str, Any]]:
        return {turn.node_id: turn.value for turn in self.turns if turn.value is not None}

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "step": self.step,
            "finished": self.finished,
            "turns": [{"node_id": t.node_id, "value": t.value} for t in self.turns],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Progress:
        return cls(
            node_id=data["node_id"],
            step=int(data["step"]),
            finished=bool(data["finished"]),
            turns=tuple(Turn(t["node_id"], t["value"]) for t in data["turns"]),
        )


@dataclass(frozen=True)
class AnswerGiven:
    node_id: str
    kind: AnswerKind
    field: FieldKind | None
    value: dict[str, Any]


@dataclass(frozen=True)
class ResolutionReached:
    node_id: str
    outcome: ResolutionOutcome
    action: ActionType | None
    params: dict[str, Any]


@dataclass(frozen=True)
class CallbackAsked:
    node_id: str
    phone: str
    slot: dict[str, str]
    note: str | None


@dataclass(frozen=True)
class SurveyGiven:
    node_id: str
    csat: int
    comment: str | None


Output = AnswerGiven | ResolutionReached | CallbackAsked | SurveyGiven


@dataclass(frozen=True)
class Accepted:
    progress: Progress
    outputs: tuple[Output, ...]


@dataclass(frozen=True)
class Rejected:
    errors: Mapping[str, str]


@dataclass(frozen=True)
class Stale:
    """For another node or step, or the conversation is over: nothing changes."""


Submission = Accepted | Rejected | Stale


@dataclass
class _Walk:
    turns: list[Turn]
    outputs: list[Output] = field(default_factory=list)


@dataclass(frozen=True)
class _Answered:
    """A valid answer to one node: its turn's value, what it yields and where it leads
    (None: the answer ends the conversation at this node)."""

    value: dict[str, Any]
    outputs: tuple[Output, ...]
    next: str | None


def begin(scenario: Scenario) -> Accepted:
    """The conversation's first state: passes the opening messages."""
    walk = _Walk(turns=[])
    return _advance(scenario, scenario.start, walk, step=0)


def submit(
    scenario: Scenario,
    progress: Progress,
    *,
    node_id: str,
    step: int,
    form: Mapping[str, str],
    context: FormContext,
) -> Submission:
    if progress.finished or node_id != progress.node_id or step != progress.step:
        return Stale()
    answered = _answer(node_id, scenario.node(node_id), form, context)
    if not isinstance(answered, _Answered):
        return answered
    walk = _Walk(
        turns=[*progress.turns[:-1], Turn(node_id, answered.value)],
        outputs=list(answered.outputs),
    )
    if answered.next is None:
        finished = Progress(node_id=node_id, step=step + 1, turns=tuple(walk.turns), finished=True)
        return Accepted(progress=finished, outputs=tuple(walk.outputs))
    return _advance(scenario, answered.next, walk, step=step + 1)


def _answer(
    node_id: str, node: Node, form: Mapping[str, str], context: FormContext
) -> _Answered | Rejected | Stale:
    """What the form answers to the node; nodes that ask nothing take no submission."""
    if isinstance(node, QuestionNode):
        return _choice(node_id, node, form)
    if isinstance(node, FormNode):
        return _field(node_id, node, form, context)
    if isinstance(node, SurveyNode):
        return _survey(node_id, node, form)
    if isinstance(node, EscalationNode):
        return _callback(node_id, form, context)
    return Stale()


def _choice(node_id: str, node: QuestionNode, form: Mapping[str, str]) -> _Answered | Rejected:
    chosen = next((c for c in node.choices if c.id == form.get("choice")), None)
    if chosen is None:
        return Rejected({"choice": "choice_required"})
    value = {"choice": chosen.id}
    return _Answered(value, (AnswerGiven(node_id, AnswerKind.CHOICE, None, value),), chosen.next)


def _field(
    node_id: str, node: FormNode, form: Mapping[str, str], context: FormContext
) -> _Answered | Rejected:
    """An optional field left empty (or skipped) is a skip, which yields nothing."""
    if node.optional and (form.get("skip") or is_empty(node.field, form)):
        return _Answered({"skipped": True}, (), node.next)
    parsed = parse_field(node.field, form, context)
    if parsed.value is None:
        return Rejected(parsed.errors)
    given = AnswerGiven(node_id, FIELD_ANSWER_KIND[node.field], node.field, parsed.value)
    return _Answered(parsed.value, (given,), node.next)


def _survey(node_id: str, node: SurveyNode, form: Mapping[str, str]) -> _Answered | Rejected:
    parsed = parse_csat(form)
    if parsed.value is None:
        return Rejected(parsed.errors)
    given = SurveyGiven(node_id, parsed.value["csat"], parsed.value["comment"])
    return _Answered(parsed.value, (given,), node.next)


def _callback(node_id: str, form: Mapping[str, str], context: FormContext) -> _Answered | Rejected:
    """An escalation ends the conversation on the callback request."""
    parsed = parse_callback(form, context)
    if parsed.value is None:
        return Rejected(parsed.errors)
    callback = parsed.value
    asked = CallbackAsked(node_id, callback["phone"], callback["slot"], callback["note"])
    return _Answered(callback, (asked,), None)


def _advance(scenario: Scenario, node_id: str, walk: _Walk, *, step: int) -> Accepted:
    while True:
        node = scenario.node(node_id)
        walk.turns.append(Turn(node_id))
        if isinstance(node, MessageNode | InfoNode):
            node_id = node.next
            continue
        finished = isinstance(node, ResolutionNode | EndNode)
        if isinstance(node, ResolutionNode):
            walk.outputs.append(_resolution(scenario, node_id, node, walk.turns))
        progress = Progress(node_id=node_id, step=step, turns=tuple(walk.turns), finished=finished)
        return Accepted(progress=progress, outputs=tuple(walk.outputs))


def _resolution(
    scenario: Scenario, node_id: str, node: ResolutionNode, turns: list[Turn]
) -> ResolutionReached:
    answers = {turn.node_id: turn.value for turn in turns if turn.value is not None}
    params: dict[str, Any] = {}
    for name, source in node.params.items():
        value = answers.get(source)
        if value is None or value.get("skipped"):
            continue
        params[name] = _param_value(scenario, source, value)
    action = scenario.action_of(node)
    reason = _customer_reason(scenario, answers) if action in REASONED_ACTIONS else None
    if reason is not None:
        params["customer_reason"] = reason
    return ResolutionReached(node_id, node.outcome, action, params)


def _customer_reason(
    scenario: Scenario, answers: Mapping[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """The reason chosen and the comment typed, if the scenario asked and it was answered."""
    asks = scenario.asks_why
    chosen = answers.get(asks.question) if asks else None
    if asks is None or chosen is None:
        return None
    comment = answers.get(asks.comment) if asks.comment else None
    text = comment.get("text") if comment and not comment.get("skipped") else None
    return {"reason": chosen["choice"], "comment": text}


_PARAM_KEY: Final[dict[FieldKind, str]] = {
    FieldKind.DATE: "day",
    FieldKind.SLOT: "slot",
    FieldKind.TEXT: "text",
}
"""The answer's key that fills a parameter; other fields fill it with the whole answer."""


def _param_value(scenario: Scenario, source: str, value: dict[str, Any]) -> Any:
    node = scenario.node(source)
    if not isinstance(node, FormNode):
        raise ScenarioError(
            f"{scenario.source}: parameter source {source!r} is a {node.kind} node, not a form"
        )
    key = _PARAM_KEY.get(node.field)
    return value if key is None else value[key]
