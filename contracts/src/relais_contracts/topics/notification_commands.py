"""relais.notification-commands.v1: what the back office asks the notifier to send.

Rules:
- commands, in the imperative sense: the insights service (the merchant's back office)
  writes them, the notifier owns sending and applies its normal rules to each one
  (dedup, opt-out, quiet hours, frequency cap) and publishes the usual outcomes on
  relais.notifications.v1, carrying `campaign_id` when the command had one;
- keyed by `<merchant_id>/<shipment_id>`: a campaign is one command per shipment;
- `event_id` is derived (`ids.derived_id`) from the campaign (or resend) and the
  shipment, so a campaign written twice to the outbox is one command per shipment;
- one message per (campaign, shipment, channel): the notifier's idempotency key is
  `ids.notification_key(anomaly id, channel, "campaign-<campaign id>")` for an
  anomaly's scenario, `ids.notification_key(campaign_message_id(...), channel,
  "campaign")` for a broadcast, `ids.notification_key(trigger id, channel,
  "resend-<resend id>")` for a resend;
- a broadcast's subject and body are the merchant's words, not customer data; they
  are rendered in the merchant's branding in the customer's language (else the first
  text given), with a chat link opening `chat_scenario_id` when one is chosen;
- the topic carries a union of event types (`MESSAGE_TYPES`): a new command is one
  more model appended there, with its examples.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import Field, field_validator

from relais_contracts.common import Locale
from relais_contracts.envelope import Contract, Event, ShipmentEvent
from relais_contracts.ids import derived_id
from relais_contracts.registry import Service, Topic
from relais_contracts.text import MultiLine, SingleLine


class AnomalyScenarioContent(Contract):
    """Send each shipment the message of its open anomaly (its bound template and chat)."""

    kind: Literal["anomaly_scenario"] = "anomaly_scenario"


class BroadcastText(Contract):
    """The merchant's words in one language."""

    locale: Locale
    subject: SingleLine = Field(min_length=1, max_length=200)
    body: MultiLine = Field(min_length=1, max_length=5000)


class BroadcastContent(Contract):
    """A message the merchant wrote (a carrier strike...), optionally opening a chat."""

    kind: Literal["broadcast"] = "broadcast"
    texts: tuple[BroadcastText, ...] = Field(
        min_length=1, max_length=12, description="One per language; the first is the fallback."
    )
    chat_scenario_id: SingleLine | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The chat scenario the message's link opens; none: no chat link.",
    )

    @field_validator("texts")
    @classmethod
    def _one_text_per_language(cls, texts: tuple[BroadcastText, ...]) -> tuple[BroadcastText, ...]:
        locales = [text.locale for text in texts]
        if len(set(locales)) != len(locales):
            raise ValueError("one text per language")
        return texts

    def text_for(self, locale: str | None) -> BroadcastText:
        """The text in `locale`, else in its language, else the first one."""
        for candidate in (locale, (locale or "").split("-")[0]):
            for text in self.texts:
                if candidate and text.locale == candidate:
                    return text
        return self.texts[0]


CampaignContent = Annotated[AnomalyScenarioContent | BroadcastContent, Field(discriminator="kind")]


class CampaignMessageRequested(ShipmentEvent):
    """Send one shipment's customer the campaign's message. `occurred_at`: when it was sent
    from the back office."""

    event_type: Literal["CampaignMessageRequested"] = "CampaignMessageRequested"
    schema_version: Literal[1] = 1
    campaign_id: UUID
    content: CampaignContent
    order_number: SingleLine | None = Field(
        default=None, min_length=1, max_length=64, description="Shown in a broadcast's footer."
    )


class MessageResendRequested(ShipmentEvent):
    """Send an earlier message of this shipment once more, to the same customer."""

    event_type: Literal["MessageResendRequested"] = "MessageResendRequested"
    schema_version: Literal[1] = 1
    resend_id: UUID = Field(description="One per click: the new message's trigger id.")
    notification_id: UUID = Field(description="The earlier NotificationSent's notification id.")


class ReviewDecision(StrEnum):
    SEND = "send"
    """Release the held message to the notifier's rules (quiet hours, cap, opt-out)."""
    DISMISS = "dismiss"
    """Never send it (NotificationSuppressed `dismissed_by_merchant`)."""


class ReviewDecided(ShipmentEvent):
    """An agent's decision on a message held for review (NotificationHeldForReview).
    `occurred_at`: when it was decided. A decision on a review no longer held (already
    decided, or withdrawn by the anomaly's resolution) changes nothing."""

    event_type: Literal["ReviewDecided"] = "ReviewDecided"
    schema_version: Literal[1] = 1
    review_id: UUID
    decision: ReviewDecision
    decided_by: UUID | None = Field(
        description="The office user's id (never an email); none when an API key decided."
    )
    via: Literal["office", "api"] = "office"


def campaign_message_id(merchant_id: str, campaign_id: UUID, shipment_id: str) -> UUID:
    """The trigger id of one campaign's message to one shipment (also the command's id)."""
    return derived_id("campaign-message", merchant_id, str(campaign_id), shipment_id)


MESSAGE_TYPES: Final[tuple[type[Event], ...]] = (
    CampaignMessageRequested,
    MessageResendRequested,
    ReviewDecided,
)

NotificationCommand = CampaignMessageRequested | MessageResendRequested | ReviewDecided

TOPIC = Topic(
    name="relais.notification-commands.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<shipment_id>`",
    message_types=MESSAGE_TYPES,
    producers=(Service.INSIGHTS,),
    consumers=(Service.NOTIFIER,),
    partitions=6,
    retention_ms=7 * 24 * 3600 * 1000,
)
