"""Start the tracker: build its settings once, describe the service, run it."""

from __future__ import annotations

from pathlib import Path

from relais_runtime.service import ServiceSpec, run_service
from relais_runtime.settings import load_settings
from relais_tracker.handlers import wire
from relais_tracker.settings import TrackerSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def build_spec() -> ServiceSpec[TrackerSettings]:
    return ServiceSpec(name="tracker", schema="tracker", migrations_dir=MIGRATIONS_DIR, wire=wire)


def main(settings: TrackerSettings | None = None) -> None:
    run_service(build_spec(), settings or load_settings(TrackerSettings))
