"""The notifier's consumers and HTTP routes (thin: decode, call the domain, persist).

Consumers (each in the consumer policy's transaction, idempotent on event id and,
below that, on each message's idempotency key):
- shipment state -> the contact read model (newer versions only);
- anomalies and milestones -> planned messages (pending, due now), or a
  suppression when the merchant does not notify this trigger; a resolved anomaly
  makes its pending messages stale, a delivered parcel its pending milestone news;
- action results -> the confirmation of a completed action.
Nothing is sent here: the dispatcher (delivery.py), woken by NOTIFY at commit,
sends what is due. A merchant without configuration is a permanent error
(dead-lettered with the reason).

HTTP: `/u/{token}` GET shows the unsubscribe confirmation, POST unsubscribes
(also the RFC 8058 one-click POST a mailbox sends on its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.topics import action_results, anomalies, shipment_state
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.notifications import SuppressionReason, TriggerKind
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_notifier import repository
from relais_notifier.channels.email import SmtpConfig, SmtpSender
from relais_notifier.channels.sms import SmsSender, TwilioSms
from relais_notifier.delivery import Dispatcher, DispatchPolicy, record_outcome
from relais_notifier.domain.outcomes import Notification, plan, suppressed_event
from relais_notifier.domain.policy import Contact
from relais_notifier.domain.triggers import (
    MessageRequest,
    TriggerDisabled,
    action_request,
    anomaly_request,
    milestone_request,
)
from relais_notifier.links import LinkMaker
from relais_notifier.rendering import (
    CATALOGUE_LANGUAGES,
    Renderer,
    catalogue,
    check_catalogue,
    resolve_language,
)
from relais_notifier.settings import NotifierSettings
from relais_runtime.clock import Clock, ScaledClock, clock_from_spec
from relais_runtime.consumer import MessageContext, PermanentError, Subscription
from relais_runtime.db import DbConnection
from relais_runtime.links import LinkError, LinkPurpose
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig, MerchantDirectory, load_merchants
from relais_runtime.merchants.branding import Tone
from relais_runtime.merchants.notification import NotificationSettings
from relais_runtime.service import Dependencies, Wiring
from relais_runtime.settings import ConfigurationError
from relais_runtime.supervisor import Loop

log = get_logger(__name__)


class Notifier:
    """The consumers' logic, bound to the merchants' configuration and the clock."""

    def __init__(self, *, merchants: Mapping[str, MerchantConfig], clock: Clock) -> None:
        self._merchants = merchants
        self._clock = clock

    def _settings(self, merchant_id: str) -> NotificationSettings | None:
        merchant = self._merchants.get(merchant_id)
        if merchant is None:
            raise PermanentError(f"no configuration for merchant {merchant_id!r}")
        return merchant.notification

    async def on_shipment_erased(self, key: bytes, context: MessageContext) -> None:
        """A tombstone on the shipment state erases the customer's contact."""
        merchant_id, shipment_id = split_partition_key(key)
        await repository.delete_contact(
            context.connection, merchant_id=merchant_id, shipment_id=shipment_id
        )

    async def on_shipment_state(self, event: Event, context: MessageContext) -> None:
        assert isinstance(event, ShipmentStateChanged)
        customer = event.customer
        await repository.update_contact(
            context.connection,
            merchant_id=event.merchant_id,
            shipment_id=event.shipment_id,
            version=event.version,
            contact=Contact(
                email=customer.email,
                phone=customer.phone,
                first_name=customer.first_name,
                customer_id=customer.customer_id,
                locale=customer.locale,
                time_zone=customer.time_zone,
            ),
        )

    async def on_anomaly(self, event: Event, context: MessageContext) -> None:
        settings = self._settings(event.merchant_id)
        if settings is None:
            return
        connection = context.connection
        if isinstance(event, AnomalyDetected | AnomalyEscalated):
            await self._plan(connection, event, anomaly_request(event, settings))
        elif isinstance(event, AnomalyResolved):
            stale = await repository.list_pending(
                connection, merchant_id=event.merchant_id, trigger_ref=event.anomaly_id
            )
            await self._make_stale(connection, stale, detail=f"anomaly {event.reason.value}")
        elif isinstance(event, ShipmentMilestoneReached):
            if event.milestone.value == "delivered":
                stale = await repository.list_pending(
                    connection,
                    merchant_id=event.merchant_id,
                    shipment_id=event.shipment_id,
                    trigger_kind=TriggerKind.MILESTONE,
                )
                await self._make_stale(connection, stale, detail="delivered meanwhile")
            await self._plan(connection, event, milestone_request(event, settings))

    async def on_action_result(self, event: Event, context: MessageContext) -> None:
        if not isinstance(event, ActionCompleted):
            return
        settings = self._settings(event.merchant_id)
        if settings is not None:
            await self._plan(context.connection, event, action_request(event, settings))

    async def _plan(
        self,
        connection: DbConnection,
        event: Event,
        request: MessageRequest | TriggerDisabled,
    ) -> None:
        now = self._clock.now()
        rows = plan(
            request,
            merchant_id=event.merchant_id,
            shipment_id=str(getattr(event, "shipment_id", "")),
            correlation_id=event.correlation_id,
            now=now,
        )
        woken = False
        for row in rows:
            if not await repository.create_notification(connection, notification=row):
                continue
            if row.status == "suppressed":
                await record_outcome(
                    connection,
                    row,
                    event=suppressed_event(
                        row,
                        now=now,
                        reason=SuppressionReason.TRIGGER_DISABLED,
                        detail=f"{row.trigger_name} is not bound to a message",
                    ),
                    outcome_reason=SuppressionReason.TRIGGER_DISABLED.value,
                )
            elif not woken:
                await repository.wake_dispatcher(connection)
                woken = True

    async def _make_stale(
        self, connection: DbConnection, rows: list[Notification], *, detail: str
    ) -> None:
        now = self._clock.now()
        for row in rows:
            await record_outcome(
                connection,
                row,
                event=suppressed_event(row, now=now, reason=SuppressionReason.STALE, detail=detail),
                status="suppressed",
                outcome_reason=SuppressionReason.STALE.value,
            )


@dataclass(frozen=True)
class Opt:
    merchant_id: str
    channel: str
    address_hash: str


@dataclass(frozen=True)
class LinkProblem:
    key: str
    status: int


def unsubscribe_router(
    *,
    pool: asyncpg.Pool,
    merchants: Mapping[str, MerchantConfig],
    links: LinkMaker,
    renderer: Renderer,
    clock: Clock,
) -> APIRouter:
    router = APIRouter(tags=["customers"])

    def page(
        request: Request, merchant: MerchantConfig | None, *, key: str, status: int, form: bool
    ) -> HTMLResponse:
        wanted = request.headers.get("accept-language", "").split(",")[0].strip()
        language = resolve_language(wanted or "und", merchant.locales if merchant else ())
        tone = merchant.branding.tone if merchant else Tone.FORMAL
        texts = catalogue(language, tone)["_unsubscribe"]
        name = merchant.branding.display_name if merchant else "Relais"
        colors = merchant.branding.colors if merchant else None
        message = texts.get(key) or _LINK_ERRORS[language][key]
        body = renderer.page(
            "unsubscribe.html.j2",
            language=language,
            title=texts["title"],
            merchant=name,
            colors=colors or _DEFAULT_COLORS,
            message=renderer.fill_text(message, merchant=name),
            button=texts["button"],
            form=form,
        )
        return HTMLResponse(body, status_code=status)

    def verify(token: str) -> Opt | LinkProblem:
        try:
            claims = links.unsubscribe_signer.verify(
                token, purpose=LinkPurpose.UNSUBSCRIBE, now=clock.now()
            )
        except LinkError as error:
            return LinkProblem("expired", 410) if error.expired else LinkProblem("invalid", 400)
        channel, _, address_hash = claims.subject.partition(":")
        if claims.merchant_id not in merchants or channel not in ("email", "sms"):
            return LinkProblem("invalid", 400)
        return Opt(merchant_id=claims.merchant_id, channel=channel, address_hash=address_hash)

    @router.get("/u/{token}", response_class=HTMLResponse)
    async def confirm(token: str, request: Request) -> HTMLResponse:
        opt = verify(token)
        if isinstance(opt, LinkProblem):
            return page(request, None, key=opt.key, status=opt.status, form=False)
        return page(request, merchants[opt.merchant_id], key="confirm", status=200, form=True)

    @router.post("/u/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str, request: Request) -> HTMLResponse:
        opt = verify(token)
        if isinstance(opt, LinkProblem):
            return page(request, None, key=opt.key, status=opt.status, form=False)
        async with pool.acquire() as connection:
            await repository.create_opt_out(
                connection,
                merchant_id=opt.merchant_id,
                channel=opt.channel,
                address_hash=opt.address_hash,
                at=clock.now(),
            )
        log.info("unsubscribed", channel=opt.channel)
        return page(request, merchants[opt.merchant_id], key="done", status=200, form=False)

    return router


_DEFAULT_COLORS = {
    "primary": "#1f4e79",
    "accent": "#f2a900",
    "background": "#ffffff",
    "text": "#1a1a1a",
}
_LINK_ERRORS = {
    "en": {
        "invalid": "This link is not valid.",
        "expired": "This link has expired.",
    },
    "fr": {
        "invalid": "Ce lien n'est pas valide.",
        "expired": "Ce lien a expiré.",
    },
}
assert set(_LINK_ERRORS) == set(CATALOGUE_LANGUAGES)


def load_merchant_directory(directory: Path | None) -> MerchantDirectory:
    merchants = load_merchants(directory) if directory else MerchantDirectory(merchants={})
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


def sms_senders(settings: NotifierSettings, client: httpx.AsyncClient) -> dict[str, SmsSender]:
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
        email_sender=SmtpSender(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                starttls=settings.smtp_starttls,
                tls=settings.smtp_tls,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value()
                if settings.smtp_password
                else None,
                timeout_s=settings.smtp_timeout_s,
                ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            )
        ),
        sms_senders=sms_senders(settings, client),
        policy=dispatch_policy(settings, clock=clock),
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
    )


def virtual_per_real(clock: Clock) -> float:
    """Virtual seconds per real second of a clock (1 unless it is a ScaledClock)."""
    return clock.factor if isinstance(clock, ScaledClock) else 1.0


def make_links(settings: NotifierSettings) -> LinkMaker:
    return LinkMaker(
        secret=settings.link_secret.get_secret_value(),
        public_chat_base_url=str(settings.public_chat_base_url),
        public_notifier_base_url=str(settings.public_notifier_base_url),
        max_age=timedelta(days=settings.link_max_age_days),
        unsubscribe_max_age=timedelta(days=settings.unsubscribe_link_max_age_days),
    )


DISPATCHER_HEARTBEAT_S = 120.0
"""The dispatcher beats every pass (at least every `interval_s`): silence this long is a
stall that makes /ready fail."""


def wire(dependencies: Dependencies[NotifierSettings], *, clock: Clock | None = None) -> Wiring:
    settings = dependencies.settings
    if not isinstance(settings, NotifierSettings):
        raise ConfigurationError("the notifier needs NotifierSettings")
    clock = clock or clock_from_spec(settings.clock)
    merchants = load_merchant_directory(settings.merchants_dir)
    renderer = Renderer()
    links = make_links(settings)
    client = httpx.AsyncClient(timeout=settings.sms_timeout_s)
    dispatcher = build_dispatcher(
        settings,
        pool=dependencies.pool,
        clock=clock,
        merchants=merchants,
        renderer=renderer,
        links=links,
        client=client,
    )
    notifier = Notifier(merchants=merchants, clock=clock)

    background = [Loop("notifier-dispatcher", dispatcher.run, heartbeat_s=DISPATCHER_HEARTBEAT_S)]
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
        ),
        routers=(
            unsubscribe_router(
                pool=dependencies.pool,
                merchants=merchants,
                links=links,
                renderer=renderer,
                clock=clock,
            ),
        ),
        background=background,
        closers=(client.aclose,),
    )
