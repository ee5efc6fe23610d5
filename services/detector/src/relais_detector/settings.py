"""The detector's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field

from relais_runtime.settings import RuntimeSettings


class DetectorSettings(RuntimeSettings):
    service_name: str = "detector"
    http_port: int = Field(default=8002, ge=0, le=65535)
    sweep_interval_s: float = Field(
        default=1.0, gt=0, le=3600, description="Real seconds between two timer sweeps."
    )
    sweep_batch_size: int = Field(default=200, ge=1, le=10_000)
    sweep_retry_s: float = Field(
        default=60, gt=0, description="Virtual seconds a timer waits after a failed evaluation."
    )
