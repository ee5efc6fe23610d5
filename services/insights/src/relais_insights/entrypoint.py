"""Start the insights service: read its settings once, configure it, run it."""

from __future__ import annotations

from relais_insights.bootstrap import build_spec, configure
from relais_insights.settings import InsightsSettings
from relais_runtime.service import run_service
from relais_runtime.settings import load_settings


def main(settings: InsightsSettings | None = None) -> None:
    settings = settings or load_settings(InsightsSettings)
    run_service(build_spec(configure(settings)), settings)
