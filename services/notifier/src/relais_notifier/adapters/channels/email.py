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
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: EmailMessage) -> Receipt:
        config = self._config
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                start_tls=config.starttls,
                use_tls=config.tls,
                username=config.username,
                password=config.password,
                timeout=config.timeout_s,
                cert_bundle=config.ca_file,
            )
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
