"""Settings of the local infrastructure, read from the environment when a command starts.

Variables (all optional): RELAIS_STATE_DIR, XDG_CACHE_HOME, RELAIS_DATABASE_URL or
DATABASE_URL, RELAIS_KAFKA_PORT, RELAIS_KAFKA_CONTROLLER_PORT, RELAIS_KAFKA_BOOTSTRAP,
RELAIS_SMTP_PORT, RELAIS_KAFKA_READY_TIMEOUT_S, JAVA_HOME.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from relais_cli.infra.paths import StatePaths
from relais_runtime.settings import DEFAULT_DATABASE_URL

LOOPBACK = "127.0.0.1"


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "relais"


def _default_cache_home() -> Path:
    return Path.home() / ".cache"


class InfraSettings(BaseSettings):
    """Where state lives and which loopback ports the components listen on."""

    model_config = SettingsConfigDict(env_prefix="RELAIS_", extra="ignore", frozen=True)

    state_dir: Path = Field(default_factory=_default_state_dir)
    cache_home: Path = Field(
        default_factory=_default_cache_home, validation_alias=AliasChoices("XDG_CACHE_HOME")
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("RELAIS_DATABASE_URL", "DATABASE_URL"),
        pattern=r"^postgres(ql)?(\+\w+)?://",
    )
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int = Field(default=9093, ge=1, le=65535)
    kafka_bootstrap_override: str | None = Field(
        default=None, validation_alias=AliasChoices("RELAIS_KAFKA_BOOTSTRAP")
    )
    kafka_ready_timeout_s: float = Field(default=90.0, gt=0)
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    java_home: Path | None = Field(default=None, validation_alias=AliasChoices("JAVA_HOME"))

    @field_validator("state_dir", "cache_home", "java_home", mode="after")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        """`~` in a variable means the home directory; relative paths are made absolute."""
        return None if value is None else value.expanduser().absolute()

    @property
    def paths(self) -> StatePaths:
        """Every file and directory of the state dir."""
        return StatePaths(root=self.state_dir)

    @property
    def cache_dir(self) -> Path:
        """Downloads that survive `down` (Kafka jars): $XDG_CACHE_HOME/relais."""
        return self.cache_home / "relais"

    @property
    def kafka_bootstrap(self) -> str:
        """RELAIS_KAFKA_BOOTSTRAP when set, else the local broker's listener."""
        return self.kafka_bootstrap_override or f"{LOOPBACK}:{self.kafka_port}"

    @property
    def kafka_bootstrap_local(self) -> str:
        """The listener of the broker `up` manages (ignores RELAIS_KAFKA_BOOTSTRAP)."""
        return f"{LOOPBACK}:{self.kafka_port}"

    @property
    def smtp_address(self) -> str:
        return f"{LOOPBACK}:{self.smtp_port}"
