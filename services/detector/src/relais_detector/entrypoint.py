"""Start the detector: read its settings once, configure it, run it."""

from __future__ import annotations

from relais_detector.bootstrap import build_spec, configure
from relais_detector.settings import DetectorSettings
from relais_runtime.service import run_service
from relais_runtime.settings import load_settings


def main(settings: DetectorSettings | None = None) -> None:
    settings = settings or load_settings(DetectorSettings)
    run_service(build_spec(configure(settings)), settings)
