"""relais.desk-replies.v1: what an agent of the merchant's level-2 desk does for a customer.

Rules:
- commands, in the imperative, produced by insights (the back office's desk) through its
  outbox, keyed by `<merchant_id>/<shipment_id>`;
- AnswerCustomer: the chat stores the answer in the conversation of the anomaly (or the
  shipment) and shows it on the customer's chat page; the notifier emails the customer
  that an answer waits, with the chat link; `answer_id` is the event id and the
  idempotency key of both (a replay stores and sends nothing twice);
- SendSurvey: the case is done; the notifier sends the satisfaction survey of the
  shipment (its `delivered` survey message), once per case (`event_id` derived from
  the case id);
- the answer's text is personal data (it speaks to one customer); the agent is named by
  display name only.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from relais_contracts.common import Locale
from relais_contracts.envelope import OrderId, ShipmentEvent
from relais_contracts.privacy import PERSONAL
from relais_contracts.registry import Service, Topic
from relais_contracts.text import MULTI_LINE, SingleLine


class AnswerCustomer(ShipmentEvent):
    """Show the agent's answer in the customer's chat and tell them by email."""

    event_type: Literal["AnswerCustomer"] = "AnswerCustomer"
    schema_version: Literal[1] = 1
    case_id: UUID
    answer_id: UUID
    order_id: OrderId
    anomaly_id: UUID | None = Field(
        default=None, description="The anomaly whose chat shows the answer, if any."
    )
    conversation_id: UUID | None = None
    locale: Locale | None = Field(default=None, description="The customer's, if known.")
    agent_name: SingleLine = Field(min_length=1, max_length=200, json_schema_extra=PERSONAL)
    text: Annotated[str, StringConstraints(min_length=1, max_length=4000), MULTI_LINE] = Field(
        json_schema_extra=PERSONAL
    )


class SendSurvey(ShipmentEvent):
    """The desk closed a case: ask the customer how satisfied they are."""

    event_type: Literal["SendSurvey"] = "SendSurvey"
    schema_version: Literal[1] = 1
    case_id: UUID
    order_id: OrderId
    locale: Locale | None = None


DeskReply = AnswerCustomer | SendSurvey

TOPIC = Topic(
    name="relais.desk-replies.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<shipment_id>`",
    message_types=(AnswerCustomer, SendSurvey),
    producers=(Service.INSIGHTS,),
    consumers=(Service.CHAT, Service.NOTIFIER),
    partitions=6,
    retention_ms=7 * 24 * 3600 * 1000,
)
