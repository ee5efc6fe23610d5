"""Start the notifier: build its settings once, describe the service, run it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from relais_notifier.handlers import wire
from relais_notifier.settings import NotifierSettings
from relais_runtime.clock import Clock
from relais_runtime.service import ServiceSpec, run_service
from relais_runtime.settings import load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def build_spec(*, clock: Clock | None = None) -> ServiceSpec[NotifierSettings]:
    """The notifier's spec; tests pass a ManualClock, production takes settings.clock."""
    return ServiceSpec(
        name="notifier",
        schema="notifier",
        migrations_dir=MIGRATIONS_DIR,
        wire=partial(wire, clock=clock),
    )


def main(settings: NotifierSettings | None = None) -> None:
    run_service(build_spec(), settings or load_settings(NotifierSettings))
