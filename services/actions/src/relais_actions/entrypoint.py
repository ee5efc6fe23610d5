"""Start the actions: build its settings once, describe the service, run it."""

from __future__ import annotations

from pathlib import Path

from relais_actions.handlers import wire
from relais_actions.settings import ActionsSettings
from relais_runtime.service import ServiceSpec, run_service
from relais_runtime.settings import load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def build_spec() -> ServiceSpec:
    return ServiceSpec(name="actions", schema="actions", migrations_dir=MIGRATIONS_DIR, wire=wire)


def main(settings: ActionsSettings | None = None) -> None:
    run_service(build_spec(), settings or load_settings(ActionsSettings))
