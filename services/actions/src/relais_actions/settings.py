"""The actions's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from relais_runtime.settings import RuntimeSettings


class ActionsSettings(RuntimeSettings):
    """`merchants_dir` unset: no merchant is configured, every command is dead-lettered."""

    service_name: str = "actions"
    http_port: int = Field(default=8005, ge=0, le=65535)
    retry_delays_s: tuple[float, ...] = Field(
        default=(30.0, 300.0, 1800.0),
        min_length=1,
        description="Base delay before the second, third, and fourth-and-later attempts.",
    )
    retry_jitter: float = Field(default=0.2, ge=0, le=1)

    @field_validator("retry_delays_s")
    @classmethod
    def _positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay <= 0 for delay in value):
            raise ValueError("every retry delay must be positive")
        return value

    def retry_delays(self) -> tuple[timedelta, ...]:
        return tuple(timedelta(seconds=delay) for delay in self.retry_delays_s)
