"""The sending policy: quiet hours, frequency cap, fallback, opt-out, contact wait."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from relais_contracts.topics.notifications import (
    Channel,
    DeferralReason,
    SuppressionReason,
    TriggerKind,
)
from relais_notifier.domain.policy import (
    Contact,
    Defer,
    DueMessage,
    Fallback,
    Send,
    Suppress,
    Wait,
    cap_frees_at,
    decide,
    quiet_until,
)
from relais_runtime.merchants.notification import (
    FrequencyCap,
    NotificationSettings,
    QuietHours,
)

NIGHT = QuietHours(start=time(21, 0), end=time(8, 30))
SETTINGS = NotificationSettings.model_validate(
    {
        "email": {"sender_address": "shop@example.com"},
        "sms": {"sender_id": "Shop"},
        "quiet_hours": {"start": "21:00", "end": "08:30"},
        "frequency_cap": {"max_messages": 2, "window_hours": 24},
    }
)
CONTACT = Contact(
    email="ana@example.com",
    phone="+33612345678",
    first_name="Ana",
    locale="fr-FR",
    time_zone="Europe/Paris",
)
NOON_PARIS = datetime(2026, 11, 2, 11, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-02T20:59:59+01:00", None),
        ("2026-11-02T21:00:00+01:00", "2026-11-03T08:30:00+01:00"),
        ("2026-11-02T23:30:00+01:00", "2026-11-03T08:30:00+01:00"),
        ("2026-11-03T03:00:00+01:00", "2026-11-03T08:30:00+01:00"),
        ("2026-11-03T08:30:00+01:00", None),
        # The night the clocks go back (2026-10-25, Paris): 08:30 is then UTC+1.
        ("2026-10-24T22:00:00+02:00", "2026-10-25T08:30:00+01:00"),
        # And forward (2026-03-29): 08:30 is then UTC+2.
        ("2026-03-28T22:00:00+01:00", "2026-03-29T08:30:00+02:00"),
    ],
)
def test_quiet_hours_spanning_midnight(now: str, expected: str | None) -> None:
    until = quiet_until(now=utc(now), quiet=NIGHT, time_zone="Europe/Paris")
    assert until == (utc(expected) if expected else None)


def test_quiet_hours_within_one_day_and_in_the_customers_zone() -> None:
    lunch = QuietHours(start=time(12, 0), end=time(14, 0))
    assert quiet_until(
        now=utc("2026-11-02T12:30:00+01:00"), quiet=lunch, time_zone="Europe/Paris"
    ) == utc("2026-11-02T14:00:00+01:00")
    # 12:30 in Paris is 06:30 in New York: not quiet there.
    assert (
        quiet_until(now=utc("2026-11-02T12:30:00+01:00"), quiet=lunch, time_zone="America/New_York")
        is None
    )


def test_cap_frees_when_the_oldest_message_leaves_the_window() -> None:
    cap = FrequencyCap(max_messages=2, window_hours=24)
    now = NOON_PARIS
    assert cap_frees_at(now=now, cap=cap, recent=[now - timedelta(hours=1)]) is None
    recent = [now - timedelta(hours=30), now - timedelta(hours=5), now - timedelta(hours=1)]
    assert cap_frees_at(now=now, cap=cap, recent=recent) == now + timedelta(hours=19)


def due(**changes: object) -> DueMessage:
    fields: dict[str, object] = {
        "channel": Channel.EMAIL,
        "trigger_kind": TriggerKind.ANOMALY,
        "urgent": False,
        "planned_at": NOON_PARIS,
    }
    fields.update(changes)
    return DueMessage(**fields)  # type: ignore[arg-type]


def run(
    message: DueMessage | None = None,
    *,
    contact: Contact | None = CONTACT,
    now: datetime = NOON_PARIS,
    opted_out: frozenset[Channel] = frozenset(),
    recent: list[datetime] | None = None,
    settings: NotificationSettings = SETTINGS,
) -> object:
    return decide(
        message=message or due(),
        contact=contact,
        settings=settings,
        opted_out=opted_out,
        recent=recent or [],
        now=now,
        contact_wait=timedelta(minutes=10),
    )


def test_sends_when_nothing_stands_in_the_way() -> None:
    assert run() == Send(channel=Channel.EMAIL)


def test_waits_for_the_contact_then_gives_up() -> None:
    assert isinstance(run(contact=None), Wait)
    late = run(contact=None, now=NOON_PARIS + timedelta(minutes=10))
    assert isinstance(late, Suppress)
    assert late.reason is SuppressionReason.NO_CONTACT


def test_falls_back_to_the_other_channel_when_configured() -> None:
    no_email = Contact(**{**CONTACT.__dict__, "email": None})
    assert run(contact=no_email) == Fallback(channel=Channel.SMS)
    no_phone = Contact(**{**CONTACT.__dict__, "phone": None})
    assert run(due(channel=Channel.SMS), contact=no_phone) == Fallback(channel=Channel.EMAIL)


def test_no_fallback_without_it_or_without_the_other_contact() -> None:
    no_email = Contact(**{**CONTACT.__dict__, "email": None})
    without = SETTINGS.model_copy(update={"fallback": False})
    assert run(contact=no_email, settings=without) == Suppress(
        SuppressionReason.NO_CONTACT, "no email contact, no fallback"
    )
    nothing = Contact(**{**CONTACT.__dict__, "email": None, "phone": None})
    decision = run(contact=nothing)
    assert isinstance(decision, Suppress)
    assert decision.reason is SuppressionReason.NO_CONTACT
    email_only = SETTINGS.model_copy(update={"sms": None})
    assert isinstance(run(contact=no_email, settings=email_only), Suppress)


def test_unsubscribed_address_is_never_sent_to() -> None:
    decision = run(opted_out=frozenset({Channel.EMAIL}))
    assert isinstance(decision, Suppress)
    assert decision.reason is SuppressionReason.UNSUBSCRIBED
    assert run(due(channel=Channel.SMS), opted_out=frozenset({Channel.EMAIL})) == Send(Channel.SMS)


def test_quiet_hours_defer_unless_urgent() -> None:
    night = utc("2026-11-02T22:15:00+01:00")
    assert run(now=night) == Defer(
        until=utc("2026-11-03T08:30:00+01:00"), reason=DeferralReason.QUIET_HOURS
    )
    assert run(due(urgent=True), now=night) == Send(Channel.EMAIL)


def test_quiet_hours_are_the_customers_not_the_servers() -> None:
    # 22:15 in Paris is 16:15 in New York.
    american = Contact(**{**CONTACT.__dict__, "time_zone": "America/New_York"})
    assert run(contact=american, now=utc("2026-11-02T22:15:00+01:00")) == Send(Channel.EMAIL)


def test_frequency_cap_defers_anomalies_and_suppresses_milestones() -> None:
    recent = [NOON_PARIS - timedelta(hours=3), NOON_PARIS - timedelta(hours=2)]
    assert run(recent=recent) == Defer(
        until=NOON_PARIS + timedelta(hours=21), reason=DeferralReason.FREQUENCY_CAP
    )
    milestone = run(due(trigger_kind=TriggerKind.MILESTONE), recent=recent)
    assert isinstance(milestone, Suppress)
    assert milestone.reason is SuppressionReason.FREQUENCY_CAP
    assert run(recent=recent[:1]) == Send(Channel.EMAIL)
