"""The notifier's settings: the shared runtime settings plus its own.

Secrets (customer link secrets, opt-out pepper, SMTP password, SMS token) are
`SecretStr`: never printed, never logged. The link secrets and the pepper have no
default: start-up fails without them (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, HttpUrl, SecretStr

from relais_runtime.settings import OptionalSecretList, RuntimeSettings, Secret, SecretList


class NotifierSettings(RuntimeSettings):
    service_name: str = "notifier"
    http_port: int = Field(default=8003, ge=0, le=65535)

    customer_link_secrets: SecretList = Field(
        description="RELAIS_CUSTOMER_LINK_SECRETS: sign the customer links (chat, tracking, "
        "survey, unsubscribe) with the first, accept any; the chat holds the same list."
    )
    opt_out_pepper: Secret = Field(
        description="RELAIS_OPT_OUT_PEPPER: keys the hashes that name a customer without "
        "their address (opt-outs, frequency cap); independent of the link secrets."
    )
    opt_out_previous_peppers: OptionalSecretList = Field(
        default=(),
        description="RELAIS_OPT_OUT_PREVIOUS_PEPPERS: peppers RELAIS_OPT_OUT_PEPPER replaced; "
        "hashes under them still match, and a matched opt-out is recorded again under the "
        "current pepper.",
    )
    link_max_age_days: int = Field(default=30, ge=1, le=365)
    unsubscribe_link_max_age_days: int = Field(default=365, ge=1, le=3650)
    public_chat_base_url: HttpUrl = Field(
        default=HttpUrl("http://127.0.0.1:8004"),
        description="Base of the customer-facing chat, tracking and survey pages.",
    )
    public_notifier_base_url: HttpUrl = Field(
        default=HttpUrl("http://127.0.0.1:8003"),
        description="Base of this service's public routes (the unsubscribe link).",
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_tls: bool = Field(default=False, description="Implicit TLS (port 465).")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle to verify the SMTP server (else the system's)."
    )

    sms_twilio_base_url: HttpUrl = HttpUrl("https://api.twilio.com")
    sms_twilio_account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    sms_twilio_auth_token: SecretStr | None = None
    sms_timeout_s: float = Field(default=10.0, gt=0)

    send_attempts: int = Field(
        default=3, ge=1, le=10, description="In-process tries of one send (tenacity)."
    )
    send_backoff_initial_s: float = Field(default=0.5, gt=0)
    send_backoff_max_s: float = Field(default=5.0, gt=0)
    send_rounds: int = Field(
        default=5, ge=1, le=50, description="Durable retry rounds before giving up for good."
    )
    send_round_delay_s: float = Field(
        default=60.0, gt=0, description="First delay between rounds; doubles each round."
    )
    send_unreachable_retry_s: float = Field(
        default=15.0,
        gt=0,
        description="While the SMTP server or SMS provider cannot be reached, a message is "
        "tried again after this long, without limit and without using up its rounds.",
    )
    sending_lease_s: float = Field(
        default=300.0, gt=0, description="After this, a send left unrecorded is tried again."
    )
    contact_wait_s: float = Field(
        default=600.0,
        ge=0,
        description="How long (real seconds, even on a scaled clock) a message waits for "
        "the shipment's contact.",
    )
    sweep_interval_s: float = Field(default=1.0, gt=0)
    sweep_batch_size: int = Field(default=50, ge=1, le=1000)
    dispatch_concurrency: int = Field(
        default=32,
        ge=1,
        le=64,
        description="Shipments whose messages the dispatcher sends at the same time (one "
        "message at a time per shipment); each holds a database connection only in its "
        "two short transactions (a send mostly waits on the provider: at 40 emails/s, 8 "
        "left messages queued for seconds, relais bench journey).",
    )
