"""The notifier's setup: the only place that reads its settings, loads the merchants,
builds the clock and the clients.

`configure` reads and checks everything before anything starts (no network): a
merchant binding a template the message catalogue lacks stops start-up with a
`ConfigurationError`. `wire` then builds the clients and the dispatcher around the
pool and hands the consumers, the unsubscribe routes and the dispatcher loop to the
runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import asyncpg
import httpx

from relais_contracts.topics import (
    action_results,
    anomalies,
    desk_replies,
    notification_commands,
    shipment_state,
)
from relais_notifier.adapters.channels.email import SmtpConfig, SmtpSender
from relais_notifier.adapters.channels.sms import SmsSender, TwilioSms
from relais_notifier.adapters.customer_hashes import CustomerHashes
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.handlers import Notifier, UnsubscribeContext, build_router
from relais_notifier.preview_routes import build_preview_router
from relais_notifier.service.dispatch_policy import DispatchPolicy
from relais_notifier.service.dispatcher import Dispatcher
from relais_notifier.settings import NotifierSettings
from relais_notifier.texts.rendering import Renderer, check_catalogue
from relais_runtime.clock import Clock, ScaledClock
from relais_runtime.consumer import Subscription
from relais_runtime.merchants import MerchantConfig, MerchantDirectory, merchants_of
from relais_runtime.service import Dependencies, ServiceSpec, Wiring
from relais_runtime.settings import ConfigurationError, secret_values
from relais_runtime.supervisor import Loop

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"

DISPATCHER_HEARTBEAT_S = 120.0
"""The dispatcher beats every pass (at least every `interval_s`): silence this long is a
stall that makes /ready fail."""


@dataclass(frozen=True)
class NotifierConfiguration:
    settings: NotifierSettings
    merchants: MerchantDirectory
    clock: Clock
    links: LinkMaker


def configure(settings: NotifierSettings, *, clock: Clock | None = None) -> NotifierConfiguration:
    """Everything the notifier reads before it starts; tests pass a ManualClock."""
    return NotifierConfiguration(
        settings=settings,
        merchants=load_merchant_directory(settings.merchants_dir),
        clock=clock or settings.build_clock(),
        links=make_links(settings),
    )


def load_merchant_directory(directory: Path | None) -> MerchantDirectory:
    """The merchants, once every template they bind is in every catalogue (language, tone)."""
    merchants = merchants_of(directory)
    templates = {
        binding.template
        for merchant in merchants.values()
        if merchant.notification is not None
        for binding in (
            *merchant.notification.anomalies.values(),
            *merchant.notification.milestones.values(),
            *(
                [merchant.notification.action_confirmation]
                if merchant.notification.action_confirmation
                else []
            ),
        )
    }
    problems = check_catalogue(sorted(templates))
    if problems:
        raise ConfigurationError("message catalogue:\n" + "\n".join(problems))
    return merchants


def make_links(settings: NotifierSettings) -> LinkMaker:
    return LinkMaker(
        secrets=secret_values(settings.customer_link_secrets),
        hashes=CustomerHashes(
            pepper=settings.opt_out_pepper.get_secret_value(),
            previous_peppers=secret_values(settings.opt_out_previous_peppers),
        ),
        public_chat_base_url=str(settings.public_chat_base_url),
        public_notifier_base_url=str(settings.public_notifier_base_url),
        max_age=timedelta(days=settings.link_max_age_days),
        unsubscribe_max_age=timedelta(days=settings.unsubscribe_link_max_age_days),
    )


def dispatch_policy(settings: NotifierSettings, *, clock: Clock) -> DispatchPolicy:
    """The dispatcher's policy. The contact wait covers the lag of this service's own
    shipment-state consumer behind its anomalies consumer: real time, so on a scaled
    clock (the demo) it lasts as many virtual seconds as it takes real ones."""
    return DispatchPolicy(
        send_attempts=settings.send_attempts,
        backoff_initial_s=settings.send_backoff_initial_s,
        backoff_max_s=settings.send_backoff_max_s,
        rounds=settings.send_rounds,
        round_delay_s=settings.send_round_delay_s,
        unreachable_retry=timedelta(seconds=settings.send_unreachable_retry_s)
        * virtual_per_real(clock),
        lease=timedelta(seconds=settings.sending_lease_s),
        contact_wait=timedelta(seconds=settings.contact_wait_s) * virtual_per_real(clock),
        batch_size=settings.sweep_batch_size,
        interval_s=settings.sweep_interval_s,
        concurrency=settings.dispatch_concurrency,
    )


def virtual_per_real(clock: Clock) -> float:
    """Virtual seconds per real second of a clock (1 unless it is a ScaledClock)."""
    return clock.factor if isinstance(clock, ScaledClock) else 1.0


def smtp_config(settings: NotifierSettings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout_s=settings.smtp_timeout_s,
        ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
    )


def sms_senders(settings: NotifierSettings, client: httpx.AsyncClient) -> dict[str, SmsSender]:
    """The SMS providers we hold credentials for (none: SMS fails as configuration_error)."""
    senders: dict[str, SmsSender] = {}
    if settings.sms_twilio_account_sid and settings.sms_twilio_auth_token:
        senders["twilio"] = TwilioSms(
            client=client,
            base_url=str(settings.sms_twilio_base_url),
            account_sid=settings.sms_twilio_account_sid,
            auth_token=settings.sms_twilio_auth_token.get_secret_value(),
        )
    return senders


def build_dispatcher(
    settings: NotifierSettings,
    *,
    pool: asyncpg.Pool,
    clock: Clock,
    merchants: Mapping[str, MerchantConfig],
    renderer: Renderer,
    links: LinkMaker,
    client: httpx.AsyncClient,
) -> Dispatcher:
    return Dispatcher(
        pool=pool,
        clock=clock,
        merchants=merchants,
        renderer=renderer,
        links=links,
        email_sender=SmtpSender(smtp_config(settings)),
        sms_senders=sms_senders(settings, client),
        policy=dispatch_policy(settings, clock=clock),
    )


def build_spec(
    configuration: NotifierConfiguration | None = None, *, clock: Clock | None = None
) -> ServiceSpec[NotifierSettings]:
    """The notifier's spec. Without a configuration, `wire` configures from the settings
    it is given (with `clock` when a test passes one, else the settings' clock)."""
    return ServiceSpec(
        name="notifier",
        schema="notifier",
        migrations_dir=MIGRATIONS_DIR,
        wire=partial(wire, configuration=configuration, clock=clock),
    )


def wire(
    dependencies: Dependencies[NotifierSettings],
    *,
    configuration: NotifierConfiguration | None = None,
    clock: Clock | None = None,
) -> Wiring:
    configuration = configuration or configure(dependencies.settings, clock=clock)
    settings, merchants, links = (
        configuration.settings,
        configuration.merchants,
        configuration.links,
    )
    renderer = Renderer()
    client = httpx.AsyncClient(timeout=settings.sms_timeout_s)
    dispatcher = build_dispatcher(
        settings,
        pool=dependencies.pool,
        clock=configuration.clock,
        merchants=merchants,
        renderer=renderer,
        links=links,
        client=client,
    )
    notifier = Notifier(merchants=merchants, clock=configuration.clock)
    routes = UnsubscribeContext(
        pool=dependencies.pool,
        merchants=merchants,
        links=links,
        renderer=renderer,
        clock=configuration.clock,
    )
    return Wiring(
        subscriptions=(
            Subscription(
                topic=shipment_state.TOPIC,
                group_id="notifier.shipment-state",
                handler=notifier.on_shipment_state,
                on_tombstone=notifier.on_shipment_erased,
            ),
            Subscription(
                topic=anomalies.TOPIC, group_id="notifier.anomalies", handler=notifier.on_anomaly
            ),
            Subscription(
                topic=action_results.TOPIC,
                group_id="notifier.action-results",
                handler=notifier.on_action_result,
            ),
            Subscription(
                topic=notification_commands.TOPIC,
                group_id="notifier.notification-commands",
                handler=notifier.on_notification_command,
            ),
            Subscription(
                topic=desk_replies.TOPIC,
                group_id="notifier.desk-replies",
                handler=notifier.on_desk_reply,
            ),
        ),
        routers=(build_router(routes), build_preview_router(routes)),
        background=[
            Loop("notifier-dispatcher", dispatcher.run, heartbeat_s=DISPATCHER_HEARTBEAT_S)
        ],
        closers=(client.aclose, dispatcher.aclose),
    )
