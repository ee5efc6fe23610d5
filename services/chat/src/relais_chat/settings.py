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
    lookup_attempts_per_client: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description="Lookup page (/track/<merchant>): attempts one client address may make "
        "per window (then 429 with Retry-After).",
    )
    lookup_attempts_per_order: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Lookup page: attempts on one merchant's order number per window, from "
        "any address.",
    )
    lookup_window_s: int = Field(
        default=900, ge=10, le=86_400, description="Lookup page: the counting window, seconds."
    )
