"""Start the notifier: build its settings once, configure it, run it."""

from __future__ import annotations

from relais_notifier.bootstrap import build_spec, configure
from relais_notifier.settings import NotifierSettings
from relais_runtime.service import run_service
from relais_runtime.settings import load_settings


def main(settings: NotifierSettings | None = None) -> None:
    settings = settings or load_settings(NotifierSettings)
    run_service(build_spec(configure(settings)), settings)
