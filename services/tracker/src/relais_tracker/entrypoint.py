"""Start the tracker: build its settings once, describe the service, run it."""

from __future__ import annotations

from relais_runtime.service import run_service
from relais_runtime.settings import load_settings
from relais_tracker.bootstrap import build_spec, configure
from relais_tracker.settings import TrackerSettings


def main(settings: TrackerSettings | None = None) -> None:
    settings = settings or load_settings(TrackerSettings)
    run_service(build_spec(configure(settings)), settings)
