"""Start the detector: build its settings once, describe the service, run it."""

from __future__ import annotations

from pathlib import Path

from relais_detector.handlers import wire
from relais_detector.settings import DetectorSettings
from relais_runtime.service import ServiceSpec, run_service
from relais_runtime.settings import load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def build_spec() -> ServiceSpec[DetectorSettings]:
    return ServiceSpec(name="detector", schema="detector", migrations_dir=MIGRATIONS_DIR, wire=wire)


def main(settings: DetectorSettings | None = None) -> None:
    run_service(build_spec(), settings or load_settings(DetectorSettings))
