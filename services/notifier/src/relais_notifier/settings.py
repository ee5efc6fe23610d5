"""The notifier's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field

from relais_runtime.settings import RuntimeSettings


class NotifierSettings(RuntimeSettings):
    service_name: str = "notifier"
    http_port: int = Field(default=8003, ge=0, le=65535)
