"""Channel adapters: email over SMTP, SMS over an HTTP provider.

Every adapter promises:
- `send` returns a `Receipt` only once the server or provider accepted the message;
- a failure raises `ChannelError`; `transient` says whether trying again later can
  help (connection lost, 4xx SMTP reply, HTTP 429 or 5xx), `reason` is what a
  `NotificationFailed` reports when it cannot;
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
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.reason = reason
        self.status = status
