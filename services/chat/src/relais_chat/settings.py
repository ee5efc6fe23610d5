"""The chat's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field

from relais_runtime.settings import RuntimeSettings


class ChatSettings(RuntimeSettings):
    service_name: str = "chat"
    http_port: int = Field(default=8004, ge=0, le=65535)
