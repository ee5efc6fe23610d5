"""Typed settings, read once at start-up and passed down.

Rules:
- nothing reads the environment at import time: a service builds its Settings in
  its entrypoint with `load_settings` and hands the object to everything else;
- every variable is prefixed `RELAIS_`; DATABASE_URL is also honoured, as the
  platform convention;
- a bad value stops start-up with `ConfigurationError`, naming where the value
  came from, the field and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from relais_runtime.clock import Clock, clock_from_spec

DEFAULT_DATABASE_URL = "postgresql://relais:relais@127.0.0.1:5432/relais"
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"

ENV_PREFIX = "RELAIS_"


class ConfigurationError(Exception):
    """Bad configuration: the message names the source, the field and the reason."""


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
    """What every service needs; a service subclasses it to add its own fields."""

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
