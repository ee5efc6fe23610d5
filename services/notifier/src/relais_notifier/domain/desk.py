"""From the level-2 desk's commands (relais.desk-replies.v1) to the messages they ask for
(pure).

Rules:
- the trigger kind is `action_result` (the desk's answer and its closing are actions of
  the merchant's agent, not anomalies: they never count as "telling the customer about
  an anomaly" nor go stale when the anomaly resolves); the trigger's `name` says which
  message it is (`desk_answer`, `desk_survey`);
- an answer: ref = `answer_id`, purpose `desk-answer`, template `desk_answer` (every
  merchant, every channel the merchant sends on); the link opens the chat of the
  anomaly (subject: the anomaly id), or the tracking page (subject: the shipment id)
  when the case has no anomaly;
- a survey: ref = `case_id`, purpose `desk-survey`, the template the merchant binds to
  the `delivered` milestone and its survey link (subject: the shipment id); a merchant
  without that binding sends no survey (`TriggerDisabled`);
- keys are `ids.notification_key(ref, channel, purpose)`: a replayed command plans
  nothing twice, a case sends its survey once;
- the facts (order number, carrier...) come from the notifier's own earlier message
  about the shipment; without one, the order id stands for the order number.
"""

from __future__ import annotations

from relais_contracts.catalogue import Milestone
from relais_contracts.topics.desk_replies import AnswerCustomer, SendSurvey
from relais_contracts.topics.notifications import Channel, LinkKind, TriggerKind
from relais_notifier.domain.triggers import MessageFacts, MessageRequest, Trigger, TriggerDisabled
from relais_runtime.merchants.notification import NotificationSettings

DESK_ANSWER_TEMPLATE = "desk_answer"
DESK_ANSWER_PURPOSE = "desk-answer"
DESK_SURVEY_NAME = "desk_survey"
DESK_SURVEY_PURPOSE = "desk-survey"

_PARCEL_FACTS = (
    "order_number",
    "carrier",
    "tracking_number",
    "promised_delivery_by",
    "estimated_delivery",
    "parcel_index",
    "parcel_count",
)
"""What a desk message may repeat of an earlier message: the parcel, never the earlier
message's own subject (action, campaign, incident...)."""


def desk_facts(earlier: MessageFacts | None, *, order_id: str) -> MessageFacts:
    if earlier is None or not earlier.order_number:
        return MessageFacts(order_number=order_id)
    return MessageFacts.model_validate(earlier.model_dump(include=set(_PARCEL_FACTS)))


def _channels(settings: NotificationSettings) -> tuple[Channel, ...]:
    return tuple(Channel(channel.value) for channel in settings.channels)


def answer_request(
    event: AnswerCustomer, settings: NotificationSettings, *, facts: MessageFacts
) -> MessageRequest:
    to_chat = event.anomaly_id is not None
    return MessageRequest(
        trigger=Trigger(
            kind=TriggerKind.ACTION_RESULT,
            ref_id=event.answer_id,
            name=DESK_ANSWER_TEMPLATE,
            source_event_id=event.event_id,
        ),
        purpose=DESK_ANSWER_PURPOSE,
        template=DESK_ANSWER_TEMPLATE,
        channels=_channels(settings),
        urgent=False,
        link_kind=LinkKind.CHAT if to_chat else LinkKind.TRACKING_PAGE,
        link_subject=str(event.anomaly_id) if to_chat else event.shipment_id,
        facts=facts,
    )


def survey_request(
    event: SendSurvey, settings: NotificationSettings, *, facts: MessageFacts
) -> MessageRequest | TriggerDisabled:
    trigger = Trigger(
        kind=TriggerKind.ACTION_RESULT,
        ref_id=event.case_id,
        name=DESK_SURVEY_NAME,
        source_event_id=event.event_id,
    )
    binding = settings.milestones.get(Milestone.DELIVERED.value)
    if binding is None:
        return TriggerDisabled(
            trigger=trigger,
            purpose=DESK_SURVEY_PURPOSE,
            channel=Channel(settings.channels[0].value),
        )
    return MessageRequest(
        trigger=trigger,
        purpose=DESK_SURVEY_PURPOSE,
        template=binding.template,
        channels=tuple(
            Channel(channel.value) for channel in (binding.channels or settings.channels)
        ),
        urgent=False,
        link_kind=LinkKind.SURVEY,
        link_subject=event.shipment_id,
        facts=facts,
    )
