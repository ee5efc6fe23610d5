"""Typed settings, read once at start-up and passed down.

Rules:
- nothing reads the environment at import time: a service builds its Settings in
  its entrypoint with `load_settings` and hands the object to everything else;
- every variable is prefixed `RELAIS_`; DATABASE_URL is also honoured, as the
  platform convention;
- a bad value stops start-up with `ConfigurationError`, naming where the value
  came from, the field and the reason;
- a secret is one per purpose (docs/security.md): `SecretList` for signing keys that
  rotate (sign with the first, verify with all), `Secret` for one value; both refuse an
  empty or short (< 32 characters) secret;
- `RELAIS_ENVIRONMENT=production` refuses a public URL (a `public_*_url` setting) that is
  not https.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from relais_runtime.clock import Clock, clock_from_spec

DEFAULT_DATABASE_URL = "postgresql://relais:relais@127.0.0.1:5432/relais"
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"

ENV_PREFIX = "RELAIS_"


class ConfigurationError(Exception):
    """Bad configuration: the message names the source, the field and the reason."""


SECRET_MIN_LENGTH = 32


def _secret_items(value: object) -> object:
    """A list of secrets from the environment: a JSON list (`["new...", "old..."]`) when
    the value starts with `[`, else comma-separated (`new...,old...`); one value without
    a comma is a list of one, and a blank value a list of none."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("starts with '[' but is not a JSON list of strings") from None
    return [part.strip() for part in text.split(",")]


def _secret_problem(secret: SecretStr) -> str | None:
    value = secret.get_secret_value()
    if not value.strip():
        return "is empty"
    if len(value) < SECRET_MIN_LENGTH:
        return f"is shorter than {SECRET_MIN_LENGTH} characters"
    return None


def _checked_secret(secret: SecretStr) -> SecretStr:
    problem = _secret_problem(secret)
    if problem:
        raise ValueError(f"the secret {problem}")
    return secret


def _checked_secrets(secrets: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
    """Every secret of the list long enough, none repeated (never naming a value)."""
    problems = []
    seen: dict[str, int] = {}
    for position, secret in enumerate(secrets, start=1):
        problem = _secret_problem(secret)
        if problem:
            problems.append(f"secret {position} of {len(secrets)} {problem}")
        elif secret.get_secret_value() in seen:
            first = seen[secret.get_secret_value()]
            problems.append(f"secret {position} of {len(secrets)} repeats secret {first}")
        seen.setdefault(secret.get_secret_value(), position)
    if problems:
        raise ValueError("; ".join(problems))
    return secrets


def _required_secrets(secrets: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
    if not secrets:
        raise ValueError("no secret given: at least one is required")
    return _checked_secrets(secrets)


Secret = Annotated[SecretStr, AfterValidator(_checked_secret)]
"""One secret of at least 32 characters (never blank)."""

SecretList = Annotated[
    tuple[SecretStr, ...],
    NoDecode,
    BeforeValidator(_secret_items),
    AfterValidator(_required_secrets),
]
"""Keys that rotate: current first, then the previous ones still accepted; at least one.
From the environment as a JSON list or comma-separated (see `_secret_items`)."""

OptionalSecretList = Annotated[
    tuple[SecretStr, ...],
    NoDecode,
    BeforeValidator(_secret_items),
    AfterValidator(_checked_secrets),
]
"""Like SecretList, but may be empty (a blank variable is no secret)."""


def secret_values(secrets: tuple[SecretStr, ...]) -> tuple[str, ...]:
    """The values, in order, for the one place that hands them to a signer or a hash."""
    return tuple(secret.get_secret_value() for secret in secrets)


class KafkaSettings(BaseSettings):
    """How every producer, consumer and admin client of a process reaches Kafka.

    Transport security (relais_runtime.kafka_security): PLAINTEXT for local runs, SSL
    (TLS, optionally with a client certificate) or SASL_SSL (TLS plus SCRAM or PLAIN
    credentials) for managed brokers. SASL_PLAINTEXT exists for brokers inside a private
    network only: credentials then cross the network in the clear.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(default=DEFAULT_KAFKA_BOOTSTRAP, min_length=3)
    kafka_client_id: str = "relais"
    kafka_linger_ms: int = Field(default=5, ge=0, le=1000)
    kafka_request_timeout_ms: int = Field(default=30_000, ge=1000)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = Field(
        default="PLAINTEXT", description="How clients talk to the brokers."
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism (SASL_* protocols only)."
    )
    kafka_sasl_username: str | None = Field(default=None, min_length=1)
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_file: Path | None = Field(
        default=None,
        description="PEM bundle of the CAs that sign the brokers' certificates "
        "(else the system's).",
    )
    kafka_ssl_cert_file: Path | None = Field(
        default=None, description="PEM client certificate, for brokers that require one."
    )
    kafka_ssl_key_file: Path | None = Field(
        default=None, description="PEM private key of the client certificate."
    )
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Refuse a broker whose certificate does not name its host."
    )

    @model_validator(mode="after")
    def _coherent_security(self) -> KafkaSettings:
        tls = self.kafka_security_protocol in {"SSL", "SASL_SSL"}
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and (self.kafka_sasl_username is None or self.kafka_sasl_password is None):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_username and kafka_sasl_password"
            )
        tls_files = {
            "kafka_ssl_ca_file": self.kafka_ssl_ca_file,
            "kafka_ssl_cert_file": self.kafka_ssl_cert_file,
            "kafka_ssl_key_file": self.kafka_ssl_key_file,
        }
        given = [name for name, path in tls_files.items() if path is not None]
        if given and not tls:
            raise ValueError(
                f"{', '.join(given)} given but kafka_security_protocol is "
                f"{self.kafka_security_protocol}: use SSL or SASL_SSL"
            )
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError("kafka_ssl_cert_file and kafka_ssl_key_file go together")
        for name in given:
            path = tls_files[name]
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: {path} is not a readable file")
        return self


class RuntimeSettings(KafkaSettings):
    """What every service needs; a service subclasses it to add its own fields.

    A subclass names every URL that customers or merchants open `public_<...>_url`: in
    production it must be https.
    """

    environment: Literal["development", "production"] = Field(
        default="development",
        description="RELAIS_ENVIRONMENT: `production` refuses at start-up what only a "
        "developer's machine may use: a public URL (`public_*_url`) that is not https.",
    )
    service_name: str = "relais"
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("RELAIS_DATABASE_URL", "DATABASE_URL"),
        pattern=r"^postgres(ql)?://",
    )
    database_pool_min: int = Field(default=1, ge=0)
    database_pool_max: int = Field(default=10, ge=1)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    http_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Larger request bodies are refused with 413 before they are parsed "
        "(relais_runtime.body_limit).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    merchants_dir: Path | None = None
    clock: str = Field(
        default="system",
        description="`system`, or `scaled:<real ISO>|<virtual ISO>|<factor>` for demos and "
        "replays (relais_runtime.clock.clock_from_spec).",
    )

    consumer_group_prefix: str = Field(
        default="", max_length=100, description="Prepended to every consumer group id."
    )
    consumer_new_groups_start: Literal["earliest", "now"] = Field(
        default="earliest",
        description="Where a consumer group with no committed offsets starts "
        "(relais_runtime.offsets).",
    )
    consumer_max_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Attempts at a message waiting for another (NotYetError) before it is "
        "dead-lettered; infrastructure failures are retried without limit.",
    )
    consumer_backoff_initial_s: float = Field(default=0.2, gt=0)
    consumer_backoff_max_s: float = Field(default=10.0, gt=0)
    consumer_lag_interval_s: float = Field(
        default=10.0, gt=0, description="How often relais_consumer_lag is refreshed."
    )
    shutdown_grace_s: float = Field(default=20.0, gt=0)
    loop_heartbeat_s: float = Field(
        default=120.0,
        gt=0,
        description="A consumer or outbox relay that shows no progress for longer makes "
        "/ready answer 503 (relais_runtime.supervisor).",
    )

    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_retention_s: float = Field(
        default=7 * 24 * 3600.0,
        ge=0,
        description="How long a published outbox row is kept before the retention pass "
        "deletes it (relais_runtime.retention); unpublished rows are never deleted.",
    )
    retention_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the retention pass runs."
    )
    retention_batch_size: int = Field(
        default=5000, ge=1, le=100_000, description="Rows deleted per transaction."
    )
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)

    otel_traces_exporter: str = Field(
        default="none",
        validation_alias=AliasChoices("OTEL_TRACES_EXPORTER", "RELAIS_OTEL_TRACES_EXPORTER"),
        pattern=r"^[a-z0-9_]+(,[a-z0-9_]+)*$",
        description="none, console or otlp (relais_runtime.tracing); standard OTEL_* env.",
    )

    @field_validator("clock")
    @classmethod
    def _known_clock(cls, value: str) -> str:
        clock_from_spec(value)
        return value

    @model_validator(mode="after")
    def _https_public_urls_in_production(self) -> Self:
        if self.environment == "development":
            return self
        plain = [
            f"{ENV_PREFIX}{name.upper()} is {value}"
            for name in sorted(type(self).model_fields)
            if name.startswith("public_") and name.endswith("_url")
            for value in [getattr(self, name)]
            if value is not None and urlsplit(str(value)).scheme != "https"
        ]
        if plain:
            raise ValueError(
                f"{ENV_PREFIX}ENVIRONMENT={self.environment} needs https public URLs: "
                + "; ".join(plain)
            )
        return self

    def build_clock(self) -> Clock:
        """The one clock a service reads time on; every process given the same spec agrees."""
        return clock_from_spec(self.clock)


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(settings_class: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build settings from the environment (and overrides); raise ConfigurationError."""
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error, source="environment")) from None


def describe_validation_error(error: ValidationError, *, source: str) -> str:
    """One line per problem: `<source>: <field> (<env var>): <reason>`."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in problem["loc"]) or "(root)"
        named = source == "environment" and field != "(root)"
        variable = f" ({ENV_PREFIX}{field.upper()})" if named else ""
        lines.append(f"{source}: {field}{variable}: {problem['msg']}")
    return "invalid configuration\n" + "\n".join(lines)
