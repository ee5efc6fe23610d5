"""When and on which channel a due message goes out (pure; time is an argument).

The checks run in this order, each one final:
1. no contact known for the shipment yet: wait for it (`Wait`, not published) until
   `contact_wait` has passed since the message was planned, then suppress
   (`no_contact`);
2. no address on the message's channel: with fallback and the other channel
   configured and reachable, the message moves there (`Fallback`); else suppressed
   (`no_contact`);
3. the address unsubscribed from this merchant on this channel: suppressed;
4. inside quiet hours in the customer's time zone, and the trigger is not urgent:
   deferred to the end of the quiet hours;
5. the customer already got `max_messages` messages of other triggers within the
   window: a milestone is suppressed (its news would be stale), anything else is
   deferred until the oldest of those leaves the window;
6. otherwise: send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from relais_contracts.topics.notifications import (
    Channel,
    DeferralReason,
    SuppressionReason,
    TriggerKind,
)
from relais_runtime.merchants.notification import (
    FrequencyCap,
    NotificationChannel,
    NotificationSettings,
    QuietHours,
)


@dataclass(frozen=True)
class Contact:
    """The customer's contact as the shipment state last gave it (personal data)."""

    email: str | None
    phone: str | None
    first_name: str | None
    locale: str
    time_zone: str
    customer_id: str | None = None

    def address(self, channel: Channel) -> str | None:
        return self.email if channel is Channel.EMAIL else self.phone


@dataclass(frozen=True)
class Send:
    channel: Channel


@dataclass(frozen=True)
class Fallback:
    channel: Channel


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: DeferralReason


@dataclass(frozen=True)
class Wait:
    until: datetime


@dataclass(frozen=True)
class Suppress:
    reason: SuppressionReason
    detail: str


Decision = Send | Fallback | Defer | Wait | Suppress


@dataclass(frozen=True)
class DueMessage:
    channel: Channel
    trigger_kind: TriggerKind
    urgent: bool
    planned_at: datetime


def other_channel(channel: Channel) -> Channel:
    return Channel.SMS if channel is Channel.EMAIL else Channel.EMAIL


def quiet_until(*, now: datetime, quiet: QuietHours, time_zone: str) -> datetime | None:
    """The end of the quiet period `now` falls in (aware, UTC), or None outside it."""
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= moment < quiet.end
        end_day = local.date()
    else:
        inside = moment >= quiet.start or moment < quiet.end
        end_day = local.date() + timedelta(days=1) if moment >= quiet.start else local.date()
    if not inside:
        return None
    end = datetime.combine(end_day, quiet.end, tzinfo=zone)
    return end.astimezone(now.tzinfo)


def cap_frees_at(
    *, now: datetime, cap: FrequencyCap, recent: Sequence[datetime]
) -> datetime | None:
    """When the customer may get another message, or None if they may now.

    `recent`: when each of the other triggers already sent to them was sent.
    """
    window = timedelta(hours=cap.window_hours)
    inside = sorted(moment for moment in recent if moment > now - window)
    if len(inside) < cap.max_messages:
        return None
    return inside[len(inside) - cap.max_messages] + window


def decide(
    *,
    message: DueMessage,
    contact: Contact | None,
    settings: NotificationSettings,
    opted_out: frozenset[Channel],
    recent: Sequence[datetime],
    now: datetime,
    contact_wait: timedelta,
) -> Decision:
    if contact is None:
        return _without_contact(message, now=now, contact_wait=contact_wait)
    channel = message.channel
    if contact.address(channel) is None:
        return _without_address(channel, contact=contact, settings=settings)
    if channel in opted_out:
        return Suppress(SuppressionReason.UNSUBSCRIBED, f"unsubscribed from {channel.value}")
    held = _held_back(message, contact=contact, settings=settings, recent=recent, now=now)
    return held if held is not None else Send(channel=channel)


def _without_contact(message: DueMessage, *, now: datetime, contact_wait: timedelta) -> Decision:
    """Check 1: wait for the contact until `contact_wait` after planning, then suppress."""
    if now < message.planned_at + contact_wait:
        return Wait(until=min(now + timedelta(seconds=30), message.planned_at + contact_wait))
    return Suppress(SuppressionReason.NO_CONTACT, "no contact received for this shipment")


def _without_address(
    channel: Channel, *, contact: Contact, settings: NotificationSettings
) -> Decision:
    """Check 2: the other channel when fallback allows it and it has an address."""
    other = other_channel(channel)
    if (
        settings.fallback
        and settings.configured(NotificationChannel(other.value))
        and contact.address(other) is not None
    ):
        return Fallback(channel=other)
    return Suppress(SuppressionReason.NO_CONTACT, f"no {channel.value} contact, no fallback")


def _held_back(
    message: DueMessage,
    *,
    contact: Contact,
    settings: NotificationSettings,
    recent: Sequence[datetime],
    now: datetime,
) -> Defer | Suppress | None:
    """Checks 4 and 5: quiet hours, then the frequency cap; None when neither holds it."""
    if settings.quiet_hours is not None and not message.urgent:
        until = quiet_until(now=now, quiet=settings.quiet_hours, time_zone=contact.time_zone)
        if until is not None:
            return Defer(until=until, reason=DeferralReason.QUIET_HOURS)
    if settings.frequency_cap is not None:
        frees_at = cap_frees_at(now=now, cap=settings.frequency_cap, recent=recent)
        if frees_at is not None:
            if message.trigger_kind is TriggerKind.MILESTONE:
                return Suppress(SuppressionReason.FREQUENCY_CAP, "cap reached; news only")
            return Defer(until=frees_at, reason=DeferralReason.FREQUENCY_CAP)
    return None
