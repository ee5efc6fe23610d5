"""The dispatcher: sends due messages, exactly once per idempotency key.

For one due row, in order:
1. transaction A: lock the row (SKIP LOCKED: one dispatcher per row), read the
   contact, opt-outs and the customer's recent sends (under a per-customer advisory
   lock, so two messages cannot both pass the cap), decide (domain.policy); a wait,
   deferral, suppression or fallback is written with its outcome event in the outbox
   and ends here; a send renders the message, marks the row `sending` with a lease,
   counts the attempt, and commits;
2. the send itself, outside any transaction, retried in process with backoff
   (tenacity) while the failure is transient;
3. transaction B: `sent` with the provider's id and a NotificationSent; or `failed`
   and a NotificationFailed (permanent failure, or the last durable round); or back
   to `pending` for a later round with a NotificationDeferred (transient_failure).
   A provider that cannot be reached at all (connection refused, reset, timed out) is
   an outage, not the message's fault: the message goes back to `pending` for
   `unreachable_retry` without using up a round, for as long as the outage lasts, and
   the pass ends (`ProviderUnreachable`) so the loop backs off.

One bad row never blocks the rest (the dispatcher is a supervised loop,
relais_runtime.supervisor and relais_runtime.passes): a row whose handling raises
anything else than a known rendering or channel failure is, when the error is the
infrastructure's (`failures.is_transient`: database or SMTP/SMS connection), left as
it is and the pass ends (the loop backs off and tries again); otherwise it is marked
`failed` (rendering_error, the detail naming the exception type only) with a
NotificationFailed, in a new transaction, and the pass goes on with the next row.
A row that cannot even be read is still marked `failed`, without an event. Each pass
and each row beats; anything raised outside the rows (listing what is due) is the
supervisor's.

Exactly once: input is recorded idempotently by key (handlers), and only a row in
`pending`, or in `sending` whose lease expired, is ever sent. The one window left
is a crash (or lost connection) after the provider accepted the message and before
transaction B commits: then the row stays `sending` and, when its lease expires,
is sent again with the same Message-ID. That window is one SMTP/HTTP response plus
one small commit, milliseconds; `attempts` > 1 on the Sent event flags it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from relais_contracts.envelope import Event
from relais_contracts.topics import notifications
from relais_contracts.topics.notifications import (
    Channel,
    DeferralReason,
    FailureReason,
    SuppressionReason,
)
from relais_notifier import repository
from relais_notifier.channels import ChannelError, Receipt
from relais_notifier.channels.email import SmtpSender, build_email
from relais_notifier.channels.sms import SmsSender
from relais_notifier.domain.outcomes import (
    Notification,
    deferred_event,
    failed_event,
    moved_to,
    round_delay,
    sent_event,
    suppressed_event,
)
from relais_notifier.domain.policy import (
    Contact,
    Defer,
    DueMessage,
    Fallback,
    Send,
    Suppress,
    Wait,
    decide,
)
from relais_notifier.domain.sms import measure_sms
from relais_notifier.links import LinkMaker
from relais_notifier.rendering import Renderer, RenderingError, RenderRequest
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.failures import TransientError, is_transient
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig
from relais_runtime.metrics import NOTIFICATION_OUTCOMES, NOTIFICATION_SEND_SECONDS
from relais_runtime.outbox import enqueue
from relais_runtime.passes import PassBackoff, Wakeup, run_passes
from relais_runtime.supervisor import beat

log = get_logger(__name__)


@dataclass(frozen=True)
class DispatchPolicy:
    send_attempts: int = 3
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 5.0
    rounds: int = 5
    round_delay_s: float = 60.0
    record_retry_s: float = 60.0
    """Real seconds an outcome already known (sent, failed) is retried into the database."""
    unreachable_retry: timedelta = timedelta(seconds=15)
    """While the provider cannot be reached: tried again after this, rounds untouched."""
    lease: timedelta = timedelta(minutes=5)
    contact_wait: timedelta = timedelta(minutes=10)
    batch_size: int = 50
    interval_s: float = 1.0


@dataclass(frozen=True)
class Outgoing:
    """A rendered message ready to hand over."""

    channel: Channel
    link_expires_at: datetime
    email: EmailMessage | None = None
    sms: OutgoingSms | None = None


@dataclass(frozen=True)
class OutgoingSms:
    provider: str
    to: str
    sender: str
    body: str
    segments: int


async def publish(connection: DbConnection, *, events: list[Event]) -> None:
    """Outcome events go out through the outbox, in the caller's transaction."""
    await enqueue(connection, topic=notifications.TOPIC, events=events)
    for event in events:
        reason = getattr(event, "reason", None)
        NOTIFICATION_OUTCOMES.labels(
            channel=getattr(event, "channel", "unknown"),
            outcome=event.event_type.removeprefix("Notification").lower(),
            reason=str(reason.value) if reason is not None else "",
        ).inc()


async def record_outcome(
    connection: DbConnection, row: Notification, *, event: Event, **changes: Any
) -> None:
    """The row's new columns and the event announcing them, in the caller's transaction."""
    await repository.update_notification(connection, idempotency_key=row.idempotency_key, **changes)
    await publish(connection, events=[event])


class ProviderUnreachable(TransientError):
    """The SMTP server or SMS provider cannot be reached: the message was deferred (its
    rounds untouched) and the pass ends, so the loop backs off instead of trying every
    due message against a server that is down."""


class Dispatcher:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        clock: Clock,
        merchants: Mapping[str, MerchantConfig],
        renderer: Renderer,
        links: LinkMaker,
        email_sender: SmtpSender,
        sms_senders: Mapping[str, SmsSender],
        policy: DispatchPolicy,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._merchants = merchants
        self._renderer = renderer
        self._links = links
        self._email = email_sender
        self._sms = sms_senders
        self._policy = policy

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop`: woken by NOTIFY on new rows, polling as the fallback.

        Each pass beats; a pass the infrastructure made fail (a database outage, a
        provider that cannot be reached) is logged and followed by a capped backoff;
        anything else raised propagates to the supervisor (relais_runtime.passes)."""

        async def one_pass() -> bool:
            return await self.dispatch_due(stop) >= self._policy.batch_size

        await run_passes(
            loop="notifier-dispatcher",
            stop=stop,
            one_pass=one_pass,
            idle_s=self._policy.interval_s,
            wakeup=Wakeup(self._pool, repository.get_wake_channel),
        )

    async def dispatch_due(self, stop: asyncio.Event | None = None) -> int:
        """One pass over what is due now; returns how many rows it looked at.

        With `stop` set, the pass ends after the message in hand (graceful shutdown).
        A row whose handling fails transiently ends the pass (raised); any other error
        marks that row failed (`_fail_unexpected`) and the pass goes on.
        """
        now = self._clock.now()
        async with self._pool.acquire() as connection:
            keys = await repository.list_due(connection, now=now, limit=self._policy.batch_size)
        for key in keys:
            if stop is not None and stop.is_set():
                break
            beat()  # a pass can be long (send retries): every row is progress
            try:
                await self.dispatch(key)
            except Exception as error:
                if is_transient(error):
                    raise
                await self._fail_unexpected(key, error)
        return len(keys)

    async def _fail_unexpected(self, key: str, error: Exception) -> None:
        """Mark `failed` a row whose handling raised `error` (not the infrastructure's).

        In a new transaction: the one that failed may be aborted. The detail names the
        exception type only (its text may hold personal data). A row that cannot even be
        read, or whose event cannot be built, is marked failed without an event rather
        than left due for ever."""
        error_type = type(error).__name__
        reason = FailureReason.RENDERING_ERROR
        log.warning("notification could not be handled", idempotency_key=key, error=error_type)
        async with self._pool.acquire() as connection, connection.transaction():
            try:
                async with connection.transaction():
                    row = await repository.get_notification(
                        connection, idempotency_key=key, lock=True
                    )
                    if row is None or row.status not in {"pending", "sending"}:
                        return
                    stage = "preparing" if row.status == "pending" else "sending"
                    await self._fail(
                        connection,
                        row,
                        reason=reason,
                        detail=f"unexpected {error_type} while {stage} the message",
                    )
            except Exception as unreadable:
                if is_transient(unreadable):
                    raise
                marked = await repository.mark_failed(
                    connection, idempotency_key=key, reason=reason.value
                )
                log.error(
                    "notification marked failed without its event",
                    idempotency_key=key,
                    error=type(unreadable).__name__,
                    marked=marked,
                )

    async def dispatch(self, key: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            prepared = await self._decide(connection, key)
        if prepared is None:
            return
        row, outgoing = prepared
        started = time.perf_counter()
        try:
            receipt = await self._send_with_retries(row, outgoing)
        except ChannelError as error:
            failure = error
            await self._record_until_done(
                lambda connection: self._record_failure(connection, row, failure)
            )
            if failure.unreachable:
                raise ProviderUnreachable(str(failure)) from None
            return
        finally:
            NOTIFICATION_SEND_SECONDS.labels(channel=row.channel.value).observe(
                time.perf_counter() - started
            )
        await self._record_until_done(
            lambda connection: self._record_sent(connection, row, outgoing, receipt)
        )

    async def _record_until_done(self, write: Callable[[DbConnection], Awaitable[None]]) -> None:
        """Transaction B, retried on a fresh connection while the database fails, for at
        most `record_retry_s`: the provider already has the message, and a row left
        `sending` by an outage would be sent again once its lease expires (a duplicate).
        Past that bound the error propagates and the lease covers it, as for a crash."""
        backoff = PassBackoff(loop="notifier-dispatcher", initial_s=0.2, max_s=2.0)
        deadline = time.monotonic() + self._policy.record_retry_s
        while True:
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    await write(connection)
                return
            except Exception as error:
                if not is_transient(error) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(backoff.next_delay())

    async def _decide(
        self, connection: DbConnection, key: str
    ) -> tuple[Notification, Outgoing] | None:
        now = self._clock.now()
        row = await repository.get_notification(connection, idempotency_key=key, lock=True)
        if row is None or not await self._still_due(connection, row, now=now):
            return None
        merchant = self._merchants.get(row.merchant_id)
        settings = merchant.notification if merchant else None
        if merchant is None or settings is None:
            await self._fail(
                connection, row, reason=FailureReason.CONFIGURATION_ERROR, detail="no config"
            )
            return None
        contact = await repository.get_contact(
            connection, merchant_id=row.merchant_id, shipment_id=row.shipment_id
        )
        customer_key = (
            self._links.customer_key(merchant_id=row.merchant_id, contact=contact)
            if contact
            else None
        )
        opted_out: frozenset[Channel] = frozenset()
        recent: list[datetime] = []
        if contact is not None and customer_key is not None:
            await repository.lock_customer(connection, customer_key=customer_key)
            opted_out = await repository.list_opt_outs(
                connection,
                merchant_id=row.merchant_id,
                hashes=self._address_hashes(row.merchant_id, contact),
            )
            if settings.frequency_cap is not None:
                recent = await repository.list_recent_sends(
                    connection,
                    merchant_id=row.merchant_id,
                    customer_key=customer_key,
                    since=now - timedelta(hours=settings.frequency_cap.window_hours),
                    exclude_trigger=row.trigger_ref,
                )
        decision = decide(
            message=DueMessage(
                channel=row.channel,
                trigger_kind=row.trigger_kind,
                urgent=row.urgent,
                planned_at=row.planned_at,
            ),
            contact=contact,
            settings=settings,
            opted_out=opted_out,
            recent=recent,
            now=now,
            contact_wait=self._policy.contact_wait,
        )
        key = row.idempotency_key
        if isinstance(decision, Wait):
            await repository.update_notification(
                connection, idempotency_key=key, due_at=decision.until
            )
            return None
        if isinstance(decision, Suppress):
            await record_outcome(
                connection,
                row,
                event=suppressed_event(
                    row, now=now, reason=decision.reason, detail=decision.detail
                ),
                status="suppressed",
                outcome_reason=decision.reason.value,
            )
            return None
        if isinstance(decision, Defer):
            await self._defer(connection, row, until=decision.until, reason=decision.reason)
            return None
        if isinstance(decision, Fallback):
            await self._fall_back(connection, row, decision.channel, now=now)
            return None
        assert isinstance(decision, Send)
        assert contact is not None
        try:
            outgoing = self._render(row, merchant, contact, now=now)
        except RenderingError as error:
            await self._fail(
                connection, row, reason=FailureReason.RENDERING_ERROR, detail=str(error)[:500]
            )
            return None
        except ChannelError as error:
            await self._fail(
                connection, row, reason=error.reason, detail=str(error), status=error.status
            )
            return None
        language = outgoing.email["Content-Language"] if outgoing.email else None
        row = Notification(
            **{**row.__dict__, "attempts": row.attempts + 1, "locale": language or contact.locale}
        )
        await repository.update_notification(
            connection,
            idempotency_key=key,
            status="sending",
            attempts=row.attempts,
            claimed_at=now,
            lease_until=now + self._policy.lease,
            customer_key=customer_key,
            locale=row.locale,
        )
        return row, outgoing

    async def _still_due(
        self, connection: DbConnection, row: Notification, *, now: datetime
    ) -> bool:
        if row.status == "pending":
            return row.due_at <= now
        if row.status == "sending":
            lease = await repository.get_lease_until(
                connection, idempotency_key=row.idempotency_key
            )
            return lease is not None and lease <= now
        return False

    def _address_hashes(self, merchant_id: str, contact: Contact) -> dict[str, str]:
        hashes = {}
        for channel in Channel:
            address = contact.address(channel)
            if address:
                hashes[channel.value] = self._links.address_hash(
                    merchant_id=merchant_id, address=address
                )
        return hashes

    def _render(
        self, row: Notification, merchant: MerchantConfig, contact: Contact, *, now: datetime
    ) -> Outgoing:
        settings = merchant.notification
        assert settings is not None
        assert row.facts is not None
        assert row.template is not None
        assert row.link_kind is not None
        assert row.link_subject is not None
        link = self._links.link(
            merchant_id=row.merchant_id, kind=row.link_kind, subject=row.link_subject, now=now
        )
        address = contact.address(row.channel)
        assert address is not None
        unsubscribe = (
            self._links.unsubscribe_url(
                merchant_id=row.merchant_id, channel=row.channel, address=address, now=now
            )
            if row.channel is Channel.EMAIL
            else None
        )
        request = RenderRequest(
            template=row.template,
            locale=contact.locale,
            merchant=merchant,
            first_name=contact.first_name,
            time_zone=contact.time_zone,
            facts=row.facts,
            link=link.url,
            link_expires_at=link.expires_at,
            unsubscribe_url=unsubscribe,
        )
        if row.channel is Channel.EMAIL:
            assert settings.email is not None
            rendered = self._renderer.email(request)
            message = build_email(
                rendered=rendered,
                sender_address=settings.email.sender_address,
                sender_name=settings.email.sender_name or merchant.branding.display_name,
                recipient=address,
                reply_to=settings.email.reply_to,
                idempotency_key=row.idempotency_key,
                unsubscribe_url=unsubscribe,
                sent_at=now,
            )
            return Outgoing(channel=row.channel, email=message, link_expires_at=link.expires_at)
        assert settings.sms is not None
        if settings.sms.provider.value not in self._sms:
            raise ChannelError(
                f"SMS provider {settings.sms.provider.value} has no credentials",
                transient=False,
                reason=FailureReason.CONFIGURATION_ERROR,
            )
        body = self._renderer.sms(request)
        return Outgoing(
            channel=row.channel,
            link_expires_at=link.expires_at,
            sms=OutgoingSms(
                provider=settings.sms.provider.value,
                to=address,
                sender=settings.sms.sender_id,
                body=body,
                segments=measure_sms(body).segments,
            ),
        )

    async def _send_with_retries(self, row: Notification, outgoing: Outgoing) -> Receipt:
        policy = self._policy
        retrying = AsyncRetrying(
            retry=retry_if_exception(
                lambda error: isinstance(error, ChannelError) and error.transient
            ),
            stop=stop_after_attempt(policy.send_attempts),
            wait=wait_random_exponential(
                multiplier=policy.backoff_initial_s, max=policy.backoff_max_s
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(row, outgoing)
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _send_once(self, row: Notification, outgoing: Outgoing) -> Receipt:
        if outgoing.email is not None:
            return await self._email.send(outgoing.email)
        assert outgoing.sms is not None
        sms = outgoing.sms
        return await self._sms[sms.provider].send(to=sms.to, sender=sms.sender, body=sms.body)

    async def _record_sent(
        self, connection: DbConnection, row: Notification, outgoing: Outgoing, receipt: Receipt
    ) -> None:
        now = self._clock.now()
        event = sent_event(
            row,
            now=now,
            provider=receipt.provider,
            provider_message_id=receipt.message_id,
            link_expires_at=outgoing.link_expires_at,
            sms_segments=receipt.segments or (outgoing.sms.segments if outgoing.sms else None),
        )
        await record_outcome(
            connection,
            row,
            event=event,
            status="sent",
            sent_at=now,
            lease_until=None,
            provider=receipt.provider,
            provider_message_id=receipt.message_id,
        )
        log.info("notification sent", channel=row.channel.value, template=row.template)

    async def _record_failure(
        self, connection: DbConnection, row: Notification, error: ChannelError
    ) -> None:
        if error.unreachable:
            await self._defer(
                connection,
                row,
                until=self._clock.now() + self._policy.unreachable_retry,
                reason=DeferralReason.TRANSIENT_FAILURE,
                detail=str(error)[:500],
            )
            return
        rounds = row.rounds + 1
        await repository.update_notification(
            connection, idempotency_key=row.idempotency_key, rounds=rounds, lease_until=None
        )
        if error.transient and rounds < self._policy.rounds:
            until = self._clock.now() + round_delay(
                rounds=rounds, first_s=self._policy.round_delay_s
            )
            await self._defer(
                connection,
                row,
                until=until,
                reason=DeferralReason.TRANSIENT_FAILURE,
                detail=str(error)[:500],
            )
            return
        await self._fail(
            connection, row, reason=error.reason, detail=str(error), status=error.status
        )

    async def _defer(
        self,
        connection: DbConnection,
        row: Notification,
        *,
        until: datetime,
        reason: DeferralReason,
        detail: str | None = None,
    ) -> None:
        await record_outcome(
            connection,
            row,
            event=deferred_event(
                row, now=self._clock.now(), until=until, reason=reason, detail=detail
            ),
            status="pending",
            due_at=until,
            outcome_reason=reason.value,
        )
        log.info("notification deferred", channel=row.channel.value, reason=reason.value)

    async def _fail(
        self,
        connection: DbConnection,
        row: Notification,
        *,
        reason: FailureReason,
        detail: str | None = None,
        status: str | None = None,
    ) -> None:
        await record_outcome(
            connection,
            row,
            event=failed_event(
                row, now=self._clock.now(), reason=reason, provider_status=status, detail=detail
            ),
            status="failed",
            outcome_reason=reason.value,
        )
        log.warning("notification failed", channel=row.channel.value, reason=reason.value)

    async def _fall_back(
        self, connection: DbConnection, row: Notification, channel: Channel, *, now: datetime
    ) -> None:
        moved = moved_to(row, channel, now=now)
        created = await repository.create_notification(connection, notification=moved)
        detail = (
            f"no {row.channel.value} contact: sent by {channel.value}"
            if created
            else f"no {row.channel.value} contact: the {channel.value} message covers it"
        )
        await record_outcome(
            connection,
            row,
            event=suppressed_event(
                row, now=now, reason=SuppressionReason.NO_CONTACT, detail=detail
            ),
            status="suppressed",
            outcome_reason=SuppressionReason.NO_CONTACT.value,
        )
        if created:
            await repository.wake_dispatcher(connection)
