"""relais.notifications.v1: every decision the notifier takes about a message.

Rules:
- one outcome per decision: sent, deferred (will be tried again at `deliver_after`),
  suppressed (will never be sent, with the reason) or failed (gave up, with the
  reason); a deferred message is followed later by another outcome with the same
  `idempotency_key`;
- `idempotency_key` = `ids.notification_key(trigger id, channel, purpose)` and
  `notification_id` = `ids.notification_id(key)`: the notifier records the key
  before sending and after, so redelivered input never sends twice;
- keyed by `<merchant_id>/<shipment_id>`; no personal data (no address, no content):
  the recipient is named only by channel;
- the link in the message is signed and expires; its token never appears here;
- an anomaly type the merchant reviews (`delivery: review`) is first announced by
  NotificationHeldForReview (one per trigger and purpose, `review_id` =
  `ids.review_id(trigger id, purpose)`): nothing is sent until an agent's ReviewDecided
  (relais.notification-commands.v1); "send" releases it to the policy above and its
  outcomes follow; "dismiss" ends each channel's message NotificationSuppressed
  `dismissed_by_merchant`; a resolution of the anomaly meanwhile ends them `stale`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from relais_contracts.common import Locale
from relais_contracts.envelope import Contract, ShipmentEvent
from relais_contracts.registry import Service, Topic
from relais_contracts.text import OptionalNeutralizedLine, OptionalSingleLine, SingleLine


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class TriggerKind(StrEnum):
    ANOMALY = "anomaly"
    ANOMALY_ESCALATION = "anomaly_escalation"
    MILESTONE = "milestone"
    ACTION_RESULT = "action_result"
    CAMPAIGN = "campaign"
    """A merchant-written broadcast sent from the back office (`campaign_id` is set)."""


class NotificationTrigger(Contract):
    """What the message is about."""

    kind: TriggerKind
    ref_id: UUID = Field(description="The anomaly, milestone or action id.")
    name: SingleLine = Field(
        min_length=1,
        max_length=64,
        description='The anomaly type, milestone or action type ("delivery_late").',
    )
    source_event_id: UUID = Field(description="The event that triggered the message.")
    campaign_id: UUID | None = Field(
        default=None,
        description="The back-office campaign that asked for the message "
        "(relais.notification-commands.v1); none for the notifier's own triggers.",
    )


class LinkKind(StrEnum):
    CHAT = "chat"
    TRACKING_PAGE = "tracking_page"
    SURVEY = "survey"


class _NotificationOutcome(ShipmentEvent):
    notification_id: UUID
    idempotency_key: SingleLine = Field(min_length=1, max_length=200)
    channel: Channel
    trigger: NotificationTrigger
    template: OptionalSingleLine = Field(
        default=None, max_length=128, description="The merchant's message template id."
    )
    locale: Locale | None = None
    attempts: int = Field(default=1, ge=0, description="Send attempts so far (0: none).")


class NotificationSent(_NotificationOutcome):
    """Handed to the email server or SMS provider, which accepted it."""

    event_type: Literal["NotificationSent"] = "NotificationSent"
    schema_version: Literal[1] = 1
    provider: SingleLine = Field(
        min_length=1, max_length=64, description='"smtp", an SMS provider...'
    )
    provider_message_id: OptionalNeutralizedLine = Field(
        default=None, max_length=256, description="Message-ID header or the provider's id."
    )
    link_kind: LinkKind | None = None
    link_expires_at: AwareDatetime | None = None
    sms_segments: int | None = Field(default=None, ge=1, description="For SMS.")
    fallback_from: Channel | None = Field(
        default=None, description="Set when sent on this channel because the other had no contact."
    )


class DeferralReason(StrEnum):
    QUIET_HOURS = "quiet_hours"
    FREQUENCY_CAP = "frequency_cap"
    TRANSIENT_FAILURE = "transient_failure"
    """The provider failed temporarily; retried with backoff."""
    RATE_LIMITED = "rate_limited"


class NotificationDeferred(_NotificationOutcome):
    """Not now; it will be tried again at `deliver_after`."""

    event_type: Literal["NotificationDeferred"] = "NotificationDeferred"
    schema_version: Literal[1] = 1
    reason: DeferralReason
    deliver_after: AwareDatetime
    detail: OptionalNeutralizedLine = Field(default=None, max_length=500)


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    FREQUENCY_CAP = "frequency_cap"
    NO_CONTACT = "no_contact"
    """No address on this channel and no fallback."""
    INVALID_CONTACT = "invalid_contact"
    CHANNEL_DISABLED = "channel_disabled"
    TRIGGER_DISABLED = "trigger_disabled"
    """The merchant sends nothing for this anomaly type or milestone."""
    STALE = "stale"
    """The facts moved on before it could be sent (anomaly resolved, parcel delivered)."""
    ALREADY_SENT = "already_sent"
    DISMISSED_BY_MERCHANT = "dismissed_by_merchant"
    """Held for review, and an agent of the merchant decided not to send it."""


class NotificationSuppressed(_NotificationOutcome):
    """Will never be sent."""

    event_type: Literal["NotificationSuppressed"] = "NotificationSuppressed"
    schema_version: Literal[1] = 1
    reason: SuppressionReason
    detail: OptionalNeutralizedLine = Field(default=None, max_length=500)


class FailureReason(StrEnum):
    INVALID_RECIPIENT = "invalid_recipient"
    """Hard bounce, unknown number."""
    REJECTED_BY_PROVIDER = "rejected_by_provider"
    RETRIES_EXHAUSTED = "retries_exhausted"
    RENDERING_ERROR = "rendering_error"
    CONFIGURATION_ERROR = "configuration_error"


class NotificationFailed(_NotificationOutcome):
    """Given up after a permanent failure or too many transient ones."""

    event_type: Literal["NotificationFailed"] = "NotificationFailed"
    schema_version: Literal[1] = 1
    reason: FailureReason
    provider_status: OptionalNeutralizedLine = Field(
        default=None, max_length=200, description="SMTP reply or provider error code."
    )
    detail: OptionalNeutralizedLine = Field(default=None, max_length=500)


class NotificationHeldForReview(ShipmentEvent):
    """Not sent: waiting in the merchant's review queue for an agent's decision.
    `occurred_at` is when it was held."""

    event_type: Literal["NotificationHeldForReview"] = "NotificationHeldForReview"
    schema_version: Literal[1] = 1
    review_id: UUID = Field(description="`ids.review_id(trigger id, purpose)`.")
    trigger: NotificationTrigger
    purpose: SingleLine = Field(
        min_length=1, max_length=64, description='"initial", "escalation-<level>".'
    )
    template: OptionalSingleLine = Field(default=None, max_length=128)
    channels: tuple[Channel, ...] = Field(min_length=1, max_length=2)


NotificationEvent = (
    NotificationSent | NotificationDeferred | NotificationSuppressed | NotificationFailed
)

TOPIC = Topic(
    name="relais.notifications.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<shipment_id>`",
    message_types=(
        NotificationSent,
        NotificationDeferred,
        NotificationSuppressed,
        NotificationFailed,
        NotificationHeldForReview,
    ),
    producers=(Service.NOTIFIER,),
    consumers=(Service.CHAT, Service.INSIGHTS),
    partitions=6,
    retention_ms=30 * 24 * 3600 * 1000,
)
