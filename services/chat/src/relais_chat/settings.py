"""The chat's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from relais_runtime.settings import RuntimeSettings


class ChatSettings(RuntimeSettings):
    service_name: str = "chat"
    http_port: int = Field(default=8004, ge=0, le=65535)
    link_secret: SecretStr = Field(
        min_length=32,
        description="RELAIS_LINK_SECRET: signs customer links; the notifier uses the same.",
    )
    scenarios_dir: Path | None = Field(
        default=None,
        description="A directory of extra scenario packs (one sub-directory per pack), "
        "besides the built-in `default` pack.",
    )
