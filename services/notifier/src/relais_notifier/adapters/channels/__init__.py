"""Channel adapters: email over SMTP, SMS over an HTTP provider.

Every adapter promises:
- `send` returns a `Receipt` only once the server or provider accepted the message;
- a failure raises `ChannelError`; `transient` says whether trying again later can
  help (connection lost, 4xx SMTP reply, HTTP 429 or 5xx), `reason` is what a
  `NotificationFailed` reports when it cannot; `unreachable` says the server or
  provider could not be reached at all (refused, reset, timed out): an outage, never
  the message's fault, retried for as long as it lasts;
- no personal data in the error text (no address, no phone number).
"""

from __future__ import annotations

from dataclasses import dataclass

from relais_contracts.topics.notifications import FailureReason


@dataclass(frozen=True)
class Receipt:
    provider: str
    message_id: str | None
    segments: int | None = None


class ChannelError(Exception):
    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        reason: FailureReason,
        status: str | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.transient = transient or unreachable
        self.unreachable = unreachable
        self.reason = reason
        self.status = status
