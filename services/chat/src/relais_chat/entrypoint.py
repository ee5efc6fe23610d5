"""Start the chat: build its settings once, describe the service, run it."""

from __future__ import annotations

from pathlib import Path

from relais_chat.configuration import load_configuration
from relais_chat.handlers import wire
from relais_chat.settings import ChatSettings
from relais_runtime.service import ServiceSpec, run_service
from relais_runtime.settings import load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def build_spec() -> ServiceSpec[ChatSettings]:
    return ServiceSpec(name="chat", schema="chat", migrations_dir=MIGRATIONS_DIR, wire=wire)


def main(settings: ChatSettings | None = None) -> None:
    settings = settings or load_settings(ChatSettings)
    load_configuration(settings)  # a bad scenario or merchant section stops here, named
    run_service(build_spec(), settings)
