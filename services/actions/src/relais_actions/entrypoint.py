"""Start the actions service: its settings read once, its configuration checked, run."""

from __future__ import annotations

from relais_actions.bootstrap import build_spec, configure
from relais_actions.settings import ActionsSettings
from relais_runtime.service import run_service
from relais_runtime.settings import load_settings


def main(settings: ActionsSettings | None = None) -> None:
    settings = settings or load_settings(ActionsSettings)
    run_service(build_spec(configure(settings)), settings)
