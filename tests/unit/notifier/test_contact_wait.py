"""The wait for a shipment's contact is real time, also on the demo's scaled clock.

Found by `relais demo` (1 real second = 1800 virtual ones): a `shipped` milestone was
handled while the notifier's shipment-state consumer was 0.1 to 1.4 real seconds
behind, and the 10-minute wait, counted in virtual time, was over after 0.33 real
seconds: the email was suppressed `no_contact` just before the contact arrived.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relais_contracts.topics.notifications import Channel, SuppressionReason, TriggerKind
from relais_notifier.bootstrap import dispatch_policy
from relais_notifier.domain.policy import DueMessage, Suppress, Wait, decide
from relais_notifier.settings import NotifierSettings
from relais_runtime.clock import ManualClock, ScaledClock, SystemClock
from relais_runtime.merchants.notification import NotificationSettings

PLANNED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SETTINGS = NotifierSettings(
    customer_link_secrets=["test-only-link-secret-0123456789abcdef"],
    opt_out_pepper="test-only-opt-out-pepper-0123456789abcdef",
)
MERCHANT = NotificationSettings.model_validate({"email": {"sender_address": "shop@example.com"}})
DEMO_CLOCK = ScaledClock(real_start=PLANNED, virtual_start=PLANNED, factor=1800)


def decision(*, contact_wait: timedelta, after: timedelta) -> object:
    return decide(
        message=DueMessage(
            channel=Channel.EMAIL,
            trigger_kind=TriggerKind.MILESTONE,
            urgent=False,
            planned_at=PLANNED,
        ),
        contact=None,
        settings=MERCHANT,
        opted_out=frozenset(),
        recent=[],
        now=PLANNED + after,
        contact_wait=contact_wait,
    )


def test_on_the_demo_clock_a_contact_late_by_seconds_is_still_awaited() -> None:
    wait = dispatch_policy(SETTINGS, clock=DEMO_CLOCK).contact_wait
    late_by_real = timedelta(seconds=1.4)
    assert isinstance(decision(contact_wait=wait, after=late_by_real * 1800), Wait)


def test_on_the_demo_clock_the_wait_still_ends_after_the_real_duration() -> None:
    wait = dispatch_policy(SETTINGS, clock=DEMO_CLOCK).contact_wait
    over = timedelta(seconds=SETTINGS.contact_wait_s + 1) * 1800
    suppressed = decision(contact_wait=wait, after=over)
    assert isinstance(suppressed, Suppress)
    assert suppressed.reason is SuppressionReason.NO_CONTACT


def test_on_real_and_manual_clocks_the_wait_is_the_setting() -> None:
    for clock in (SystemClock(), ManualClock()):
        assert dispatch_policy(SETTINGS, clock=clock).contact_wait == timedelta(minutes=10)
