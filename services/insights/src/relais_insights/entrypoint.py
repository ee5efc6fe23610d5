"""Start the insights service: build its settings once, describe the service, run it."""

from __future__ import annotations

from pathlib import Path

from relais_insights.configuration import load_configuration
from relais_insights.handlers import wire
from relais_insights.settings import InsightsSettings
from relais_runtime.service import ServiceSpec, run_service
from relais_runtime.settings import load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def build_spec() -> ServiceSpec[InsightsSettings]:
    return ServiceSpec(name="insights", schema="insights", migrations_dir=MIGRATIONS_DIR, wire=wire)


def main(settings: InsightsSettings | None = None) -> None:
    settings = settings or load_settings(InsightsSettings)
    load_configuration(settings)  # a bad merchant file or a key on two merchants stops here
    run_service(build_spec(), settings)
