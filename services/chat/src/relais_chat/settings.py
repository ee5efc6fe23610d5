"""The chat's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from relais_runtime.settings import RuntimeSettings, SecretList


class ChatSettings(RuntimeSettings):
    service_name: str = "chat"
    http_port: int = Field(default=8004, ge=0, le=65535)
    customer_link_secrets: SecretList = Field(
        description="RELAIS_CUSTOMER_LINK_SECRETS: verify the customer links the notifier "
        "signs (the same list as the notifier's; any of them is accepted).",
    )
    scenarios_dir: Path | None = Field(
        default=None,
        description="A directory of extra scenario packs (one sub-directory per pack), "
        "besides the built-in `default` pack.",
    )
