"""The actions's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field

from relais_runtime.settings import RuntimeSettings


class ActionsSettings(RuntimeSettings):
    service_name: str = "actions"
    http_port: int = Field(default=8005, ge=0, le=65535)
