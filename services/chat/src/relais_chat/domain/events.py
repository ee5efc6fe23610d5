"""What the chat publishes for what the customer did (relais.conversations.v1).

Rules:
- ids are derived (relais_contracts.ids) and used as event ids: an answer from
  (conversation, node, step submitted), the resolution and the callback from the
  conversation; a replayed submission re-creates the same events, which the outbox
  and every consumer drop as duplicates;
- a broadcast's conversation (campaign_message_id) publishes no ResolutionChosen: the
  customer's choice is its AnswerRecorded;
- a resolution's action is built from the scenario's action and the customer's
  form answers and validated against relais_contracts.actions (strict to write).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from relais_chat.domain.engine import (
    AnswerGiven,
    CallbackAsked,
    Output,
    ResolutionReached,
    SurveyGiven,
)
from relais_chat.domain.scenarios import FieldKind
from relais_contracts import ids
from relais_contracts.actions import ActionRequest
from relais_contracts.catalogue import AnomalyType
from relais_contracts.envelope import Event
from relais_contracts.topics.conversations import (
    Answer,
    AnswerKind,
    AnswerRecorded,
    CallbackRequested,
    ConversationPurpose,
    ConversationStarted,
    EntryPoint,
    ResolutionChosen,
    SurveyAnswered,
    TrackingPageViewed,
)
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.transcript import TranscriptLine

_ACTION = TypeAdapter[Any](ActionRequest)


@dataclass(frozen=True)
class ConversationRef:
    """Who and what a conversation is about (its envelope fields)."""

    conversation_id: UUID
    merchant_id: str
    shipment_id: str
    order_id: str
    purpose: ConversationPurpose
    subject_id: UUID
    """The anomaly id, or the delivered milestone id for a survey."""
    anomaly_type: AnomalyType | None
    scenario_id: str
    scenario_version: str
    locale: str
    time_zone: str
    campaign_message_id: UUID | None = None
    """A broadcast's conversation (subject_id): it has no anomaly."""

    @property
    def anomaly_id(self) -> UUID | None:
        anomaly = self.purpose is ConversationPurpose.ANOMALY and self.campaign_message_id is None
        return self.subject_id if anomaly else None


def started(ref: ConversationRef, *, entry: EntryPoint, now: datetime) -> ConversationStarted:
    survey = ref.purpose is ConversationPurpose.SURVEY
    return ConversationStarted(
        event_id=ids.derived_id("conversation-started", str(ref.conversation_id)),
        occurred_at=now,
        merchant_id=ref.merchant_id,
        correlation_id=ref.shipment_id,
        shipment_id=ref.shipment_id,
        conversation_id=ref.conversation_id,
        purpose=ref.purpose,
        anomaly_id=ref.anomaly_id,
        anomaly_type=ref.anomaly_type,
        milestone_id=ref.subject_id if survey else None,
        scenario_id=ref.scenario_id,
        scenario_version=ref.scenario_version,
        locale=ref.locale,
        entry=entry,
        campaign_message_id=ref.campaign_message_id,
    )


def tracking_viewed(
    state: ShipmentStateChanged, *, entry: EntryPoint, locale: str, now: datetime
) -> TrackingPageViewed:
    """Each view is its own fact (a WISMO answered), so its id is random."""
    return TrackingPageViewed(
        event_id=uuid4(),
        occurred_at=now,
        merchant_id=state.merchant_id,
        correlation_id=state.shipment_id,
        shipment_id=state.shipment_id,
        entry=entry,
        locale=locale,
        status=state.status,
        substatus=state.substatus,
    )


def events_for(
    ref: ConversationRef,
    outputs: Sequence[Output],
    *,
    submission: str,
    now: datetime,
    transcript: tuple[TranscriptLine, ...] = (),
) -> list[Event]:
    """`transcript` (the conversation so far) travels with a callback request; a
    broadcast's resolution is its recorded answer only (a ResolutionChosen names an
    anomaly)."""
    return [
        _event(ref, output, submission=submission, now=now, transcript=transcript)
        for output in outputs
        if not (isinstance(output, ResolutionReached) and ref.campaign_message_id is not None)
    ]


def _envelope(ref: ConversationRef, now: datetime) -> dict[str, Any]:
    return {
        "occurred_at": now,
        "merchant_id": ref.merchant_id,
        "correlation_id": ref.shipment_id,
        "shipment_id": ref.shipment_id,
        "conversation_id": ref.conversation_id,
    }


def _event(
    ref: ConversationRef,
    output: Output,
    *,
    submission: str,
    now: datetime,
    transcript: tuple[TranscriptLine, ...],
) -> Event:
    match output:
        case AnswerGiven():
            return _answer_recorded(ref, output, submission=submission, now=now)
        case ResolutionReached():
            return _resolution_chosen(ref, output, now=now)
        case CallbackAsked():
            return _callback_requested(ref, output, now=now, transcript=transcript)
        case SurveyGiven():
            return _survey_answered(ref, output, now=now)
        case _:
            assert_never(output)


def _answer_recorded(
    ref: ConversationRef, output: AnswerGiven, *, submission: str, now: datetime
) -> AnswerRecorded:
    answer_id = ids.answer_id(ref.conversation_id, output.node_id, submission)
    return AnswerRecorded(
        **_envelope(ref, now),
        event_id=answer_id,
        answer_id=answer_id,
        node_id=output.node_id,
        answer=contract_answer(output),
    )


def _resolution_chosen(
    ref: ConversationRef, output: ResolutionReached, *, now: datetime
) -> ResolutionChosen:
    """Only an anomaly's conversation resolves (a survey scenario has no resolution node)."""
    if ref.anomaly_id is None or ref.anomaly_type is None:
        raise ValueError(f"conversation {ref.conversation_id}: a resolution needs an anomaly")
    resolution_id = ids.resolution_id(ref.conversation_id)
    action = (
        _ACTION.validate_python({"action": output.action.value, **output.params})
        if output.action
        else None
    )
    return ResolutionChosen(
        **_envelope(ref, now),
        event_id=resolution_id,
        resolution_id=resolution_id,
        order_id=ref.order_id,
        anomaly_id=ref.anomaly_id,
        anomaly_type=ref.anomaly_type,
        outcome=output.outcome,
        action=action,
    )


def _callback_requested(
    ref: ConversationRef,
    output: CallbackAsked,
    *,
    now: datetime,
    transcript: tuple[TranscriptLine, ...],
) -> CallbackRequested:
    callback_id = ids.callback_id(ref.conversation_id)
    return CallbackRequested(
        **_envelope(ref, now),
        event_id=callback_id,
        callback_id=callback_id,
        order_id=ref.order_id,
        anomaly_id=ref.anomaly_id,
        anomaly_type=ref.anomaly_type,
        phone=output.phone,
        slot=output.slot,
        time_zone=ref.time_zone,
        locale=ref.locale,
        note=output.note,
        transcript=transcript,
    )


def _survey_answered(ref: ConversationRef, output: SurveyGiven, *, now: datetime) -> SurveyAnswered:
    return SurveyAnswered(
        **_envelope(ref, now),
        event_id=ids.derived_id("survey-answer", str(ref.conversation_id)),
        milestone_id=ref.subject_id if ref.purpose is ConversationPurpose.SURVEY else None,
        csat=output.csat,
        comment=output.comment,
        locale=ref.locale,
    )


def contract_answer(output: AnswerGiven) -> Answer:
    value = output.value
    if output.kind is AnswerKind.CHOICE:
        return Answer(kind=output.kind, choice_id=value["choice"])
    if output.field is FieldKind.PICKUP_POINT:
        point_address = {**value["address"], "company": value["name"]}
        return Answer(kind=AnswerKind.ADDRESS, address=point_address)
    field_name = {
        AnswerKind.ADDRESS: ("address", None),
        AnswerKind.PHONE: ("phone", "phone"),
        AnswerKind.DATE: ("day", "day"),
        AnswerKind.TIME_SLOT: ("slot", "slot"),
        AnswerKind.TEXT: ("text", "text"),
    }[output.kind]
    name, key = field_name
    return Answer.model_validate({"kind": output.kind, name: value if key is None else value[key]})
