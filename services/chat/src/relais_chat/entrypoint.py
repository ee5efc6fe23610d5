"""Start the chat: its settings and configuration once, then the service."""

from __future__ import annotations

from relais_chat.bootstrap import build_spec, configure
from relais_chat.settings import ChatSettings
from relais_runtime.service import run_service
from relais_runtime.settings import load_settings


def main(settings: ChatSettings | None = None) -> None:
    settings = settings or load_settings(ChatSettings)
    run_service(build_spec(configure(settings)), settings)
