"""Sending: the hand-over to the SMTP server or SMS provider, outside any transaction,
retried in process with backoff (tenacity) while the failure is transient; and what a
failure that outlived those tries does to the message.

After the in-process tries, in order:
- the provider could not be reached at all (refused, reset, timed out): an outage, not
  the message's fault; it goes back to `pending` for `unreachable_retry`, its rounds
  untouched, for as long as the outage lasts;
- a transient failure with durable rounds left: back to `pending` for the next round
  (the delay doubles each round), with a NotificationDeferred (transient_failure);
- otherwise (permanent, or the last round): `failed` with a NotificationFailed.
"""

from __future__ import annotations

from collections.abc import Mapping

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from relais_contracts.topics.notifications import DeferralReason
from relais_notifier import repository
from relais_notifier.adapters.channels import ChannelError, Receipt
from relais_notifier.adapters.channels.email import SmtpSender
from relais_notifier.adapters.channels.sms import SmsSender
from relais_notifier.domain.outcomes import Notification, round_delay
from relais_notifier.service.composing import Outgoing
from relais_notifier.service.dispatch_policy import DispatchPolicy
from relais_notifier.service.outcomes import OutcomeRecorder
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.failures import TransientError


class ProviderUnreachable(TransientError):
    """The SMTP server or SMS provider cannot be reached: the message was deferred (its
    rounds untouched) and the pass ends, so the loop backs off instead of trying every
    due message against a server that is down."""


class Sender:
    def __init__(
        self,
        *,
        email_sender: SmtpSender,
        sms_senders: Mapping[str, SmsSender],
        policy: DispatchPolicy,
    ) -> None:
        self._email = email_sender
        self._sms = sms_senders
        self._policy = policy

    async def send(self, outgoing: Outgoing) -> Receipt:
        """The provider's receipt; raises the last ChannelError once the tries are spent
        or at once when the failure is permanent."""
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
                return await self._send_once(outgoing)
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _send_once(self, outgoing: Outgoing) -> Receipt:
        if outgoing.email is not None:
            return await self._email.send(outgoing.email)
        assert outgoing.sms is not None
        sms = outgoing.sms
        return await self._sms[sms.provider].send(to=sms.to, sender=sms.sender, body=sms.body)


class SendFailures:
    """Records a send that failed after its in-process tries (see the module's rules)."""

    def __init__(self, *, recorder: OutcomeRecorder, clock: Clock, policy: DispatchPolicy) -> None:
        self._recorder = recorder
        self._clock = clock
        self._policy = policy

    async def record(
        self, connection: DbConnection, row: Notification, error: ChannelError
    ) -> None:
        if error.unreachable:
            await self._recorder.defer(
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
            await self._recorder.defer(
                connection,
                row,
                until=until,
                reason=DeferralReason.TRANSIENT_FAILURE,
                detail=str(error)[:500],
            )
            return
        await self._recorder.fail(
            connection, row, reason=error.reason, detail=str(error), status=error.status
        )
