"""Notification: how and when the notifier reaches this merchant's customers.

Rules:
- `channels` lists the channels a message goes out on; every channel used must be
  configured; with `fallback`, a message whose channel has no contact goes out on
  the other channel, if that one is configured;
- only the anomaly types and milestones named here notify; each names its message
  template (the notifier's catalogue of localized messages);
- quiet hours are read in the customer's time zone (the merchant's when unknown);
  a message due inside them waits until they end, unless its anomaly type is in
  `urgent`;
- the frequency cap counts the messages (one per trigger, whatever the channels) a
  customer received in the last `window_hours`;
- an anomaly type bound with `delivery: review` is held in the back office's review
  queue until an agent sends or dismisses it (`automatic`, the default, sends it at
  once); `review_alert_after` (`30m`, `2h`, `1d`, `1h30m`) is how long a held message
  may wait before the merchant is alerted; only anomaly bindings may ask for review.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum
from typing import Self

from pydantic import Field, field_serializer, field_validator, model_validator

from relais_runtime.merchants.base import Section


class NotificationChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class SmsProvider(StrEnum):
    TWILIO = "twilio"
    """Twilio's Programmable Messaging API (form POST, HTTP basic auth)."""


class EmailChannel(Section):
    sender_address: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$", max_length=254)
    sender_name: str | None = Field(
        default=None, min_length=1, max_length=80, description="Defaults to the display name."
    )
    reply_to: str | None = Field(
        default=None, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$", max_length=254
    )


class SmsChannel(Section):
    sender_id: str = Field(
        pattern=r"^([A-Za-z0-9 ]{1,11}|\+[1-9][0-9]{6,14})$",
        description="Alphanumeric sender id (at most 11 characters) or an E.164 number.",
    )
    provider: SmsProvider = SmsProvider.TWILIO


class QuietHours(Section):
    """[start, end) in local time; may span midnight (21:00 to 08:00)."""

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("quiet hours start and end must differ")
        return self


class FrequencyCap(Section):
    max_messages: int = Field(ge=1, le=100)
    window_hours: int = Field(ge=1, le=24 * 30)


class Delivery(StrEnum):
    AUTOMATIC = "automatic"
    """Sent as soon as the policy allows (quiet hours, cap, opt-out)."""
    REVIEW = "review"
    """Held until an agent of the merchant sends or dismisses it."""


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_MAX_REVIEW_WAIT = timedelta(days=30)


def parse_duration(value: object) -> timedelta:
    """`1d`, `2h`, `1h30m`, `45m`, `90s` (units in that order), or seconds as a number;
    strictly positive."""
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        duration = timedelta(seconds=value)
    elif isinstance(value, str) and value and (match := _DURATION.fullmatch(value.strip())):
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise ValueError(f"{value!r} is not a duration such as 30m, 2h, 1d or 1h30m")
    if duration <= timedelta(0):
        raise ValueError("the duration must be positive")
    return duration


def format_duration(duration: timedelta) -> str:
    """The notation parse_duration reads (`1d2h`, `90s`), so a dumped config reloads."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


class MessageBinding(Section):
    template: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    channels: tuple[NotificationChannel, ...] | None = Field(
        default=None, min_length=1, description="Overrides the merchant's channels."
    )
    notify_escalations: bool = Field(
        default=False, description="Anomalies only: send a reminder when it escalates."
    )
    delivery: Delivery = Field(
        default=Delivery.AUTOMATIC,
        description="Anomalies only: `review` holds the message until an agent decides.",
    )


class NotificationSettings(Section):
    email: EmailChannel | None = None
    sms: SmsChannel | None = None
    channels: tuple[NotificationChannel, ...] = Field(
        default=(NotificationChannel.EMAIL,), min_length=1, max_length=2
    )
    fallback: bool = True
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    anomalies: dict[str, MessageBinding] = Field(default_factory=dict)
    milestones: dict[str, MessageBinding] = Field(default_factory=dict)
    action_confirmation: MessageBinding | None = None
    urgent: tuple[str, ...] = Field(
        default=(), description="Anomaly types sent even during quiet hours."
    )
    review_alert_after: timedelta = Field(
        default=timedelta(hours=2),
        description="How long a message held for review may wait before an alert (`2h`).",
    )

    @field_validator("review_alert_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        duration = parse_duration(value)
        if duration > _MAX_REVIEW_WAIT:
            raise ValueError("at most 30 days (30d)")
        return duration

    @field_serializer("review_alert_after")
    def _written_duration(self, value: timedelta) -> str:
        return format_duration(value)

    @field_validator("anomalies", "urgent")
    @classmethod
    def _known_anomaly_types(cls, value: dict[str, MessageBinding] | tuple[str, ...]) -> object:
        from relais_contracts.catalogue import AnomalyType

        known = {item.value for item in AnomalyType}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown anomaly type(s) {unknown}; known: {sorted(known)}")
        return value

    @field_validator("milestones")
    @classmethod
    def _known_milestones(cls, value: dict[str, MessageBinding]) -> dict[str, MessageBinding]:
        from relais_contracts.catalogue import Milestone

        known = {item.value for item in Milestone}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown milestone(s) {unknown}; known: {sorted(known)}")
        return value

    @model_validator(mode="after")
    def _channels_configured(self) -> Self:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("a channel is listed twice in channels")
        used = set(self.channels)
        for binding in [*self.anomalies.values(), *self.milestones.values()]:
            used.update(binding.channels or ())
        for channel in sorted(used):
            if not self.configured(channel):
                raise ValueError(
                    f"channel {channel.value!r} is used but has no {channel.value} section"
                )
        return self

    @model_validator(mode="after")
    def _review_only_for_anomalies(self) -> Self:
        others = {f"milestones.{name}": binding for name, binding in self.milestones.items()}
        if self.action_confirmation is not None:
            others["action_confirmation"] = self.action_confirmation
        for field, binding in sorted(others.items()):
            if binding.delivery is Delivery.REVIEW:
                raise ValueError(f"{field}: delivery review is for anomaly types only")
        return self

    def reviewed(self, anomaly_type: str) -> bool:
        """True when this anomaly type's messages wait for an agent's decision."""
        binding = self.anomalies.get(anomaly_type)
        return binding is not None and binding.delivery is Delivery.REVIEW

    def configured(self, channel: NotificationChannel) -> bool:
        return getattr(self, channel.value) is not None
