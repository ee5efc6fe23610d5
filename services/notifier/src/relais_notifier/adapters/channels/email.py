"""Email over real SMTP (aiosmtplib): multipart text + HTML, one-click unsubscribe.

Rules:
- the Message-ID is derived from the idempotency key (`<key@sender domain>`, `:`
  written `.`), so the same notification sent twice carries the same Message-ID and
  the duplicate is detectable by any mailbox or log;
- List-Unsubscribe carries the notifier's signed unsubscribe URL and
  List-Unsubscribe-Post announces RFC 8058 one-click unsubscription;
- every header value goes through `header_text` (each run of control characters
  becomes one space): a CR LF in an order number, a display name or an address can
  neither inject a header nor make the message raise;
- STARTTLS, implicit TLS and authentication come from the settings;
- a 5xx reply to the recipient is permanent (invalid recipient), other 5xx are
  permanent rejections, 4xx replies and connection problems are transient.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from relais_contracts.topics.notifications import FailureReason
from relais_notifier.adapters.channels import ChannelError, Receipt
from relais_notifier.texts.rendering import RenderedEmail, header_text

UNREACHABLE = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    OSError,
    TimeoutError,
)
"""The SMTP server could not be reached or dropped the connection: an outage."""

PROVIDER = "smtp"


def message_id_for(idempotency_key: str, *, sender_address: str) -> str:
    domain = sender_address.rsplit("@", 1)[1]
    return f"<{idempotency_key.replace(':', '.')}@{domain}>"


def build_email(
    *,
    rendered: RenderedEmail,
    sender_address: str,
    sender_name: str,
    recipient: str,
    reply_to: str | None,
    idempotency_key: str,
    unsubscribe_url: str | None,
    sent_at: datetime,
) -> EmailMessage:
    """The message, multipart text + HTML; every header value is one clean line."""
    message = EmailMessage()
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    local, domain = header_text(sender_address).rsplit("@", 1)
    message["From"] = Address(display_name=header_text(sender_name), username=local, domain=domain)
    message["To"] = header_text(recipient)
    if reply_to:
        message["Reply-To"] = header_text(reply_to)
    message["Subject"] = header_text(rendered.subject)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = header_text(
        message_id_for(idempotency_key, sender_address=sender_address)
    )
    message["Content-Language"] = header_text(rendered.language)
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{header_text(unsubscribe_url)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    starttls: bool = False
    tls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 15.0
    ca_file: str | None = None


class SmtpSender:
    """Sends over SMTP, keeping connections open between messages: a new one costs the
    server's greeting, EHLO, and TLS and login when configured (most of a message's
    round trips). At most `max_idle` idle connections are kept, each for `idle_s`; a
    connection is given back only after a message it carried was accepted, and one
    that failed in any way is closed. A kept connection the server closed meanwhile
    is replaced by a new one at once (the server accepted nothing on it)."""

    def __init__(self, config: SmtpConfig, *, max_idle: int = 8, idle_s: float = 30.0) -> None:
        self._config = config
        self._max_idle = max_idle
        self._idle_s = idle_s
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        """Connections ready for a message, with the time each was given back."""

    @property
    def config(self) -> SmtpConfig:
        return self._config

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def send(self, message: EmailMessage) -> Receipt:
        try:
            await self._deliver(message)
        except aiosmtplib.SMTPRecipientsRefused as error:
            code = error.recipients[0].code if error.recipients else 550
            raise ChannelError(
                "recipient refused",
                transient=code < 500,
                reason=FailureReason.INVALID_RECIPIENT,
                status=str(code),
            ) from None
        except aiosmtplib.SMTPAuthenticationError as error:
            raise ChannelError(
                "SMTP authentication failed",
                transient=True,
                reason=FailureReason.CONFIGURATION_ERROR,
                status=str(error.code),
            ) from None
        except aiosmtplib.SMTPResponseException as error:
            raise ChannelError(
                f"SMTP server replied {error.code}",
                transient=error.code < 500,
                reason=FailureReason.REJECTED_BY_PROVIDER,
                status=f"{error.code} {error.message}"[:200],
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise ChannelError(
                f"SMTP unavailable: {type(error).__name__}",
                transient=True,
                reason=FailureReason.RETRIES_EXHAUSTED,
                unreachable=isinstance(error, UNREACHABLE),
            ) from None
        return Receipt(provider=PROVIDER, message_id=message["Message-ID"])

    async def _deliver(self, message: EmailMessage) -> None:
        kept = self._take()
        if kept is not None:
            try:
                await kept.send_message(message)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                _close(kept)  # closed by the server while idle: a new connection below
            except BaseException:
                _close(kept)
                raise
            else:
                self._give_back(kept)
                return
        client = self._client()
        try:
            await client.connect()
            await client.send_message(message)
        except BaseException:
            _close(client)
            raise
        self._give_back(client)

    def _client(self) -> aiosmtplib.SMTP:
        config = self._config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            start_tls=config.starttls,
            use_tls=config.tls,
            username=config.username,
            password=config.password,
            timeout=config.timeout_s,
            cert_bundle=config.ca_file,
        )

    def _take(self) -> aiosmtplib.SMTP | None:
        """The most recently used kept connection still open and fresh, if any."""
        deadline = time.monotonic() - self._idle_s
        while self._idle:
            client, since = self._idle.pop()
            if since > deadline and client.is_connected:
                return client
            _close(client)
        return None

    def _give_back(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self._max_idle and client.is_connected:
            self._idle.append((client, time.monotonic()))
        else:
            _close(client)

    async def aclose(self) -> None:
        """Say goodbye on every kept connection (at stop)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                _close(client)


def _close(client: aiosmtplib.SMTP) -> None:
    """Drop a connection without a word to the server (it may be gone already)."""
    with contextlib.suppress(Exception):
        client.close()
