"""The isolated infrastructure of a fuzz run (relais_cli.infra.isolated, ports `FUZZ`:
Kafka 29092/29093, PostgreSQL 25432, SMTP 21025, services 28001-28006)."""

from __future__ import annotations

from pathlib import Path

from relais_cli.infra import isolated
from relais_cli.infra.isolated import FUZZ, SERVICES, IsolatedInfra

__all__ = ["SERVICES", "FuzzInfra", "default_state_dir"]


def default_state_dir() -> Path:
    return isolated.default_state_dir("fuzz")


class FuzzInfra(IsolatedInfra):
    def __init__(self, *, state_dir: Path) -> None:
        super().__init__(name="fuzz", state_dir=state_dir, ports=FUZZ)
