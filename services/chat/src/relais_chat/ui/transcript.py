"""A conversation as the page shows it: the bubbles said so far and the input the
customer has to give now.

Rules:
- every node passed is a bot bubble (an info node carries the tracking timeline),
  every answer a customer bubble, a finished escalation also its confirmation;
- only an open, unfinished conversation on an open subject asks for input, at its
  current node and step; after a rejected answer the form shows what was typed
  and the errors, otherwise it is prefilled from the shipment (phone, address);
- dates and slots are shown in the customer's language and time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from relais_chat.domain.conversation import ConversationStatus, Subject
from relais_chat.domain.engine import Progress, Rejected
from relais_chat.domain.forms import PERIODS
from relais_chat.domain.scenarios import (
    EscalationNode,
    FieldKind,
    FormNode,
    InfoNode,
    Node,
    QuestionNode,
    Scenario,
    SurveyNode,
)
from relais_chat.domain.translations import Text
from relais_chat.repository import StoredConversation
from relais_chat.ui import presentation
from relais_chat.ui.texts import render
from relais_contracts.transcript import MAX_LINES as TRANSCRIPT_LINES
from relais_contracts.transcript import MAX_TEXT as TRANSCRIPT_TEXT
from relais_contracts.transcript import Speaker as TranscriptSpeaker
from relais_contracts.transcript import TranscriptLine
from relais_runtime.merchants.branding import Tone

Words = Callable[..., str]
"""The pages' words in one language: `t(key, **values)` (ui.words.say)."""


class Speaker(StrEnum):
    BOT = "bot"
    CUSTOMER = "customer"


class PromptKind(StrEnum):
    QUESTION = "question"
    FORM = "form"
    SURVEY = "survey"
    ESCALATION = "escalation"


@dataclass
class Bubble:
    who: Speaker
    html: Markup
    timeline: list[presentation.TimelineItem] | None = None


@dataclass
class Prompt:
    """The input the customer has to give now."""

    kind: PromptKind
    node_id: str
    step: int
    field_kind: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    optional: bool = False
    errors: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Voice:
    """Scenario texts in the customer's language and the merchant's tone."""

    language: str
    tone: Tone
    values: Mapping[str, object]

    def __call__(self, text: Text) -> Markup:
        return render(text, language=self.language, tone=self.tone, values=self.values)


@dataclass(frozen=True)
class Reader:
    """How answers read back: dates in the customer's language and time zone."""

    locale: str
    zone: str
    t: Words


def bubbles(
    conversation: StoredConversation,
    scenario: Scenario,
    *,
    say: Voice,
    reader: Reader,
    timeline: list[presentation.TimelineItem],
) -> list[Bubble]:
    said: list[Bubble] = []
    for turn in conversation.progress.turns:
        node = scenario.node(turn.node_id)
        said.append(
            Bubble(Speaker.BOT, say(node.text), timeline if isinstance(node, InfoNode) else None)
        )
        if turn.value is None:
            continue
        said.append(Bubble(Speaker.CUSTOMER, answer_html(node, turn.value, say, reader)))
        if isinstance(node, EscalationNode):
            said.append(Bubble(Speaker.BOT, say(node.done)))
    return said


def said_lines(
    progress: Progress,
    scenario: Scenario,
    *,
    say: Voice,
    reader: Reader,
    started_at: datetime,
    answered_at: Sequence[datetime],
) -> tuple[TranscriptLine, ...]:
    """The bubbles as plain text for the desk: the n-th answer at `answered_at[n]`, the
    bot's words at the time of the answer before them (the first ones at the start)."""
    lines: list[TranscriptLine] = []
    answers = 0

    def line(speaker: TranscriptSpeaker, html: Markup) -> None:
        at = answered_at[answers - 1] if 0 < answers <= len(answered_at) else started_at
        text = html.striptags()[:TRANSCRIPT_TEXT]
        lines.append(TranscriptLine(at=at, speaker=speaker, text=text or "-"))

    for turn in progress.turns:
        node = scenario.node(turn.node_id)
        line(TranscriptSpeaker.BOT, say(node.text))
        if turn.value is None:
            continue
        answers += 1
        line(TranscriptSpeaker.CUSTOMER, answer_html(node, turn.value, say, reader))
        if isinstance(node, EscalationNode):
            line(TranscriptSpeaker.BOT, say(node.done))
    return tuple(lines[-TRANSCRIPT_LINES:])


def waiting_prompt(
    conversation: StoredConversation,
    scenario: Scenario,
    *,
    subject: Subject,
    rejected: Rejected | None,
    form: Mapping[str, str],
    say: Voice,
) -> Prompt | None:
    """The input asked at the conversation's last turn, if it still asks one."""
    progress = conversation.progress
    if (
        not progress.turns
        or conversation.status is not ConversationStatus.OPEN
        or progress.finished
        or subject.closed
    ):
        return None
    node_id = progress.turns[-1].node_id
    node = scenario.node(node_id)
    return make_prompt(node_id, node, progress.step, rejected, form, say, subject)


def make_prompt(
    node_id: str,
    node: Node,
    step: int,
    rejected: Rejected | None,
    form: Mapping[str, str],
    say: Voice,
    subject: Subject,
) -> Prompt | None:
    errors = rejected.errors if rejected else {}
    values = dict(form) if rejected else prefill(node, subject)
    if isinstance(node, QuestionNode):
        return Prompt(
            PromptKind.QUESTION,
            node_id,
            step,
            choices=[(c.id, str(say(c.label))) for c in node.choices],
            errors=errors,
        )
    if isinstance(node, FormNode):
        return Prompt(
            PromptKind.FORM,
            node_id,
            step,
            field_kind=node.field.value,
            optional=node.optional,
            errors=errors,
            values=values,
        )
    if isinstance(node, SurveyNode):
        return Prompt(PromptKind.SURVEY, node_id, step, errors=errors, values=values)
    if isinstance(node, EscalationNode):
        return Prompt(PromptKind.ESCALATION, node_id, step, errors=errors, values=values)
    return None


def prefill(node: Node, subject: Subject) -> dict[str, str]:
    state = subject.state
    if state is None:
        return {}
    if isinstance(node, EscalationNode) and state.customer.phone:
        return {"phone": state.customer.phone}
    if isinstance(node, FormNode) and node.field is FieldKind.ADDRESS and state.delivery.address:
        address = state.delivery.address
        return {
            "line1": address.line1,
            "line2": address.line2 or "",
            "postal_code": address.postal_code,
            "city": address.city,
            "country": address.country,
        }
    return {}


def answer_html(node: Node, value: Mapping[str, Any], say: Voice, reader: Reader) -> Markup:
    if value.get("skipped"):
        return Markup("—")
    if isinstance(node, QuestionNode):
        label = next((c.label for c in node.choices if c.id == value["choice"]), None)
        # A choice the merchant has stopped offering since it was picked keeps its id.
        return say(label) if label is not None else Markup.escape(value["choice"])
    if isinstance(node, SurveyNode):
        stars = "★" * value["csat"] + "☆" * (5 - value["csat"])
        comment = value.get("comment")
        return Markup("{} {}").format(stars, f"— {comment}" if comment else "")
    if isinstance(node, EscalationNode):
        return Markup("{} · {}").format(value["phone"], show_slot(value["slot"], reader))
    return field_html(value, reader)


def field_html(value: Mapping[str, Any], reader: Reader) -> Markup:
    """A form answer, recognised by its keys (forms.parse_field's values)."""
    if "slot" in value:
        return Markup.escape(show_slot(value["slot"], reader))
    if "day" in value:
        day = datetime.fromisoformat(value["day"]).date()
        return Markup.escape(presentation.show_date(day, locale=reader.locale))
    if "phone" in value:
        return Markup.escape(value["phone"])
    if "text" in value:
        return Markup.escape(value["text"])
    if "point_id" in value:
        return Markup("{}<br>{}").format(value["name"], presentation.one_line(value["address"]))
    return Markup.escape(presentation.one_line(dict(value)))


def show_slot(slot: Mapping[str, str], reader: Reader) -> str:
    start = datetime.fromisoformat(slot["start"]).astimezone(ZoneInfo(reader.zone))
    period = next((name for name, (begin, _) in PERIODS.items() if begin == start.time()), "")
    day = presentation.show_date(start.date(), locale=reader.locale)
    return f"{day}, {reader.t(period)}" if period else day
