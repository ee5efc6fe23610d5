"""The detector's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field

from relais_runtime.settings import RuntimeSettings


class DetectorSettings(RuntimeSettings):
    service_name: str = "detector"
    http_port: int = Field(default=8002, ge=0, le=65535)
