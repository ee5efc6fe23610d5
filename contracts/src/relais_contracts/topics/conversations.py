"""relais.conversations.v1: what customers did in the chat and on the tracking page.

Rules:
- produced by the chat through its outbox, keyed by `<merchant_id>/<shipment_id>`;
- one conversation per anomaly (or per delivered milestone for the survey, or per
  campaign message for a merchant's broadcast): `conversation_id` =
  `ids.conversation_id(merchant, anomaly, milestone or campaign message id)`;
- a broadcast's conversation has purpose `anomaly`, `campaign_message_id` set and no
  anomaly; its choices are AnswerRecorded (and CallbackRequested), never a
  ResolutionChosen (which names an anomaly);
- a double submit counts once: `answer_id` = `ids.answer_id(conversation, node,
  form token)`, at most one ResolutionChosen per conversation
  (`ids.resolution_id`), one CallbackRequested (`ids.callback_id`); producers use
  these ids as `event_id` too;
- a CallbackRequested carries the conversation's transcript as the customer saw it
  (relais_contracts.transcript; personal data), empty in records written before it;
- free text, addresses and phone numbers typed by the customer are personal data;
  free text keeps its line breaks (LF) and nothing else (relais_contracts.text);
- ResolutionChosen and CallbackRequested are requests: the actions service decides
  (merchant policy) and reports on the action-results topic.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from relais_contracts.actions import ActionRequest
from relais_contracts.catalogue import AnomalyType
from relais_contracts.common import Locale, PhoneE164, PostalAddress, TimeSlot, TimeZoneName
from relais_contracts.envelope import Contract, OrderId, ShipmentEvent
from relais_contracts.privacy import PERSONAL
from relais_contracts.registry import Service, Topic
from relais_contracts.text import OptionalMultiLine, OptionalSingleLine, SingleLine
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_contracts.transcript import Transcript


class EntryPoint(StrEnum):
    EMAIL_LINK = "email_link"
    SMS_LINK = "sms_link"
    TRACKING_PAGE = "tracking_page"
    WIDGET = "widget"


class ConversationPurpose(StrEnum):
    ANOMALY = "anomaly"
    SURVEY = "survey"


class _ConversationEvent(ShipmentEvent):
    conversation_id: UUID


class ConversationStarted(_ConversationEvent):
    """The customer opened the chat for the first time (later visits resume it)."""

    event_type: Literal["ConversationStarted"] = "ConversationStarted"
    schema_version: Literal[1] = 1
    purpose: ConversationPurpose
    anomaly_id: UUID | None = Field(default=None, description="For purpose anomaly.")
    anomaly_type: AnomalyType | None = None
    milestone_id: UUID | None = Field(default=None, description="For purpose survey.")
    scenario_id: SingleLine = Field(min_length=1, max_length=128)
    scenario_version: OptionalSingleLine = Field(default=None, max_length=64)
    locale: Locale
    entry: EntryPoint
    notification_id: UUID | None = Field(
        default=None, description="The message whose link was followed, if any."
    )
    campaign_message_id: UUID | None = Field(
        default=None,
        description="A broadcast's conversation: the campaign message whose link opened it"
        " (notification_commands.campaign_message_id); it has no anomaly.",
    )

    @model_validator(mode="after")
    def _subject(self) -> Self:
        broadcast = self.campaign_message_id is not None
        if (
            self.purpose is ConversationPurpose.ANOMALY
            and not broadcast
            and (self.anomaly_id is None or self.anomaly_type is None)
        ):
            raise ValueError("an anomaly conversation needs anomaly_id and anomaly_type")
        if self.purpose is ConversationPurpose.SURVEY and self.milestone_id is None:
            raise ValueError("a survey conversation needs milestone_id")
        return self


class AnswerKind(StrEnum):
    CHOICE = "choice"
    TEXT = "text"
    ADDRESS = "address"
    PHONE = "phone"
    DATE = "date"
    TIME_SLOT = "time_slot"


_ANSWER_FIELD = {
    AnswerKind.CHOICE: "choice_id",
    AnswerKind.TEXT: "text",
    AnswerKind.ADDRESS: "address",
    AnswerKind.PHONE: "phone",
    AnswerKind.DATE: "day",
    AnswerKind.TIME_SLOT: "slot",
}


class Answer(Contract):
    """One answer: exactly the field of its kind is set."""

    kind: AnswerKind
    choice_id: OptionalSingleLine = Field(default=None, max_length=128)
    text: OptionalMultiLine = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)
    address: PostalAddress | None = Field(default=None, json_schema_extra=PERSONAL)
    phone: PhoneE164 | None = Field(default=None, json_schema_extra=PERSONAL)
    day: date | None = None
    slot: TimeSlot | None = None

    @model_validator(mode="after")
    def _one_value(self) -> Self:
        expected = _ANSWER_FIELD[self.kind]
        set_fields = [name for name in _ANSWER_FIELD.values() if getattr(self, name) is not None]
        if set_fields != [expected]:
            raise ValueError(f"a {self.kind.value} answer sets exactly {expected!r}")
        return self


class AnswerRecorded(_ConversationEvent):
    """The customer answered one node of the scenario."""

    event_type: Literal["AnswerRecorded"] = "AnswerRecorded"
    schema_version: Literal[1] = 1
    answer_id: UUID
    node_id: SingleLine = Field(min_length=1, max_length=128)
    answer: Answer


class ResolutionOutcome(StrEnum):
    EXECUTE_ACTION = "execute_action"
    """The merchant must do something: `action` says what."""
    WAIT = "wait"
    """The customer is happy to wait."""
    CONFIRM_RECEIVED = "confirm_received"
    """The customer has the parcel after all."""


class ResolutionChosen(_ConversationEvent):
    """The customer's final choice in an anomaly conversation."""

    event_type: Literal["ResolutionChosen"] = "ResolutionChosen"
    schema_version: Literal[1] = 1
    resolution_id: UUID
    order_id: OrderId
    anomaly_id: UUID
    anomaly_type: AnomalyType
    outcome: ResolutionOutcome
    action: ActionRequest | None = Field(
        default=None, description="Set exactly when outcome is execute_action."
    )

    @model_validator(mode="after")
    def _action_iff_execute(self) -> Self:
        if (self.outcome is ResolutionOutcome.EXECUTE_ACTION) != (self.action is not None):
            raise ValueError("action is set exactly when outcome is execute_action")
        return self


class CallbackRequested(_ConversationEvent):
    """The customer asked a human to call them back (level-2 escalation)."""

    event_type: Literal["CallbackRequested"] = "CallbackRequested"
    schema_version: Literal[1] = 1
    callback_id: UUID
    order_id: OrderId
    anomaly_id: UUID | None = None
    anomaly_type: AnomalyType | None = None
    phone: PhoneE164 = Field(json_schema_extra=PERSONAL)
    slot: TimeSlot
    time_zone: TimeZoneName
    locale: Locale
    note: OptionalMultiLine = Field(default=None, max_length=1000, json_schema_extra=PERSONAL)
    transcript: Transcript = ()


class SurveyAnswered(_ConversationEvent):
    """Post-delivery satisfaction survey."""

    event_type: Literal["SurveyAnswered"] = "SurveyAnswered"
    schema_version: Literal[1] = 1
    milestone_id: UUID | None = None
    csat: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: OptionalMultiLine = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)
    locale: Locale


class AbandonReason(StrEnum):
    IDLE_TIMEOUT = "idle_timeout"
    LINK_EXPIRED = "link_expired"
    ANOMALY_RESOLVED = "anomaly_resolved"
    """The facts resolved the anomaly before the customer finished."""


class ConversationAbandoned(_ConversationEvent):
    """Closed without a resolution."""

    event_type: Literal["ConversationAbandoned"] = "ConversationAbandoned"
    schema_version: Literal[1] = 1
    reason: AbandonReason
    last_node_id: OptionalSingleLine = Field(default=None, max_length=128)
    last_activity_at: AwareDatetime


class TrackingPageViewed(ShipmentEvent):
    """Someone opened the shipment's tracking page (a "where is my order?" answered)."""

    event_type: Literal["TrackingPageViewed"] = "TrackingPageViewed"
    schema_version: Literal[1] = 1
    entry: EntryPoint
    locale: Locale
    status: TrackingStatus
    substatus: Substatus


ConversationEvent = (
    ConversationStarted
    | AnswerRecorded
    | ResolutionChosen
    | CallbackRequested
    | SurveyAnswered
    | ConversationAbandoned
    | TrackingPageViewed
)

TOPIC = Topic(
    name="relais.conversations.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<shipment_id>`",
    message_types=(
        ConversationStarted,
        AnswerRecorded,
        ResolutionChosen,
        CallbackRequested,
        SurveyAnswered,
        ConversationAbandoned,
        TrackingPageViewed,
    ),
    producers=(Service.CHAT,),
    consumers=(Service.ACTIONS, Service.DETECTOR, Service.INSIGHTS),
    partitions=6,
    retention_ms=30 * 24 * 3600 * 1000,
)
