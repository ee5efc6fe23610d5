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
  customer received in the last `window_hours`.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Self

from pydantic import Field, field_validator, model_validator

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


class MessageBinding(Section):
    template: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    channels: tuple[NotificationChannel, ...] | None = Field(
        default=None, min_length=1, description="Overrides the merchant's channels."
    )
    notify_escalations: bool = Field(
        default=False, description="Anomalies only: send a reminder when it escalates."
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

    def configured(self, channel: NotificationChannel) -> bool:
        return getattr(self, channel.value) is not None
