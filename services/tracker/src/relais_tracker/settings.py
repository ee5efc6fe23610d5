"""The tracker's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field

from relais_runtime.settings import RuntimeSettings


class TrackerSettings(RuntimeSettings):
    service_name: str = "tracker"
    http_port: int = Field(default=8001, ge=0, le=65535)
