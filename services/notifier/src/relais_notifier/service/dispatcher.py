"""The dispatcher: sends due messages, exactly once per idempotency key.

For one due row, in order (each step its own module of this package):
1. transaction A (`preparing`): lock the row (SKIP LOCKED: one dispatcher per row),
   read the contact, opt-outs and the customer's recent sends (under a per-customer
   advisory lock, so two messages cannot both pass the cap), decide (domain.policy);
   a wait, deferral, suppression or fallback is written with its outcome event in the
   outbox and ends here; a send renders the message, marks the row `sending` with a
   lease, counts the attempt, and commits;
2. the send itself (`sending`), outside any transaction, retried in process with
   backoff (tenacity) while the failure is transient;
3. transaction B (`outcomes`, `sending.SendFailures`): `sent` with the provider's id
   and a NotificationSent; or `failed` and a NotificationFailed (permanent failure, or
   the last durable round); or back to `pending` for a later round with a
   NotificationDeferred (transient_failure).
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

import asyncpg

from relais_contracts.topics.notifications import FailureReason
from relais_notifier import repository
from relais_notifier.adapters.channels import ChannelError, Receipt
from relais_notifier.adapters.channels.email import SmtpSender
from relais_notifier.adapters.channels.sms import SmsSender
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.domain.outcomes import Notification, NotificationStatus
from relais_notifier.service.composing import Composer, Outgoing
from relais_notifier.service.deciding import Decider
from relais_notifier.service.dispatch_policy import DispatchPolicy
from relais_notifier.service.outcomes import OutcomeRecorder
from relais_notifier.service.preparing import Preparation
from relais_notifier.service.sending import ProviderUnreachable, Sender, SendFailures
from relais_notifier.texts.rendering import Renderer
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.failures import is_transient
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig
from relais_runtime.metrics import NOTIFICATION_SEND_SECONDS
from relais_runtime.passes import PassBackoff, Wakeup, run_passes
from relais_runtime.supervisor import beat

log = get_logger(__name__)

STILL_DUE = frozenset({NotificationStatus.PENDING, NotificationStatus.SENDING})


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
        self._policy = policy
        self._renderer = renderer  # the one the composer uses (a test breaks a template in it)
        self._recorder = OutcomeRecorder(clock=clock)
        self._preparation = Preparation(
            clock=clock,
            merchants=merchants,
            decider=Decider(links=links, contact_wait=policy.contact_wait),
            composer=Composer(renderer=renderer, links=links, sms_providers=sms_senders),
            recorder=self._recorder,
            policy=policy,
        )
        self._email_sender = email_sender
        self._sender = Sender(email_sender=email_sender, sms_senders=sms_senders, policy=policy)
        self._send_failures = SendFailures(recorder=self._recorder, clock=clock, policy=policy)

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

    async def aclose(self) -> None:
        """Close the connections the email sender keeps (at stop, after the loop)."""
        await self._email_sender.aclose()

    async def dispatch_due(self, stop: asyncio.Event | None = None) -> int:
        """One pass over what is due now; returns how many rows it looked at.

        Rows of one shipment are dispatched one after another, in due order; up to
        `policy.concurrency` shipments at once (a send mostly waits: on the database, on
        the provider). With `stop` set, no new row starts and the pass ends once the
        messages in hand are done (graceful shutdown). A row whose handling fails
        transiently ends the pass: no new row starts, and the error is raised once the
        rows in hand are done; any other error marks that row failed
        (`_fail_unexpected`) and the pass goes on.
        """
        now = self._clock.now()
        async with self._pool.acquire() as connection:
            due = await repository.list_due(connection, now=now, limit=self._policy.batch_size)
        lanes: dict[str, list[str]] = {}
        for row in due:
            lanes.setdefault(row.lane, []).append(row.idempotency_key)
        pending = iter(lanes.values())
        ended: list[Exception] = []

        async def worker() -> None:
            for keys in pending:
                for key in keys:
                    if ended or (stop is not None and stop.is_set()):
                        return
                    beat()  # a pass can be long (send retries): every row is progress
                    try:
                        await self._dispatch_one(key)
                    except Exception as error:
                        ended.append(error)
                        return

        workers = min(self._policy.concurrency, len(lanes))
        await asyncio.gather(*(worker() for _ in range(workers)))
        if ended:
            raise ended[0]
        return len(due)

    async def _dispatch_one(self, key: str) -> None:
        """Dispatch one row; an error that is not the infrastructure's marks it failed."""
        try:
            await self.dispatch(key)
        except Exception as error:
            if is_transient(error):
                raise
            await self._fail_unexpected(key, error)

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
                    if row is None or row.status not in STILL_DUE:
                        return
                    stage = "preparing" if row.status == NotificationStatus.PENDING else "sending"
                    await self._recorder.fail(
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
            receipt = await self._sender.send(outgoing)
        except ChannelError as error:
            failure = error
            await self._record_until_done(
                lambda connection: self._send_failures.record(connection, row, failure)
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
        """Transaction A (`Preparation`): the row marked `sending` and its message, or None."""
        return await self._preparation.prepare(connection, key)

    async def _record_sent(
        self, connection: DbConnection, row: Notification, outgoing: Outgoing, receipt: Receipt
    ) -> None:
        await self._recorder.sent(connection, row, outgoing, receipt)
