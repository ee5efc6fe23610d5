"""Start the notifier: build its settings once, describe the service, run it."""

from __future__ import annotations

from pathlib import Path

from relais_notifier.handlers import wire
from relais_notifier.settings import NotifierSettings
from relais_runtime.service import ServiceSpec, run_service
from relais_runtime.settings import load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def build_spec() -> ServiceSpec:
    return ServiceSpec(name="notifier", schema="notifier", migrations_dir=MIGRATIONS_DIR, wire=wire)


def main(settings: NotifierSettings | None = None) -> None:
    run_service(build_spec(), settings or load_settings(NotifierSettings))
