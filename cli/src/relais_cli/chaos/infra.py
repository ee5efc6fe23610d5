"""The isolated infrastructure of a chaos run (relais_cli.infra.isolated, ports `CHAOS`:
Kafka 19092/19093, PostgreSQL 15432, SMTP 11025, services 18001-18006), and the faults
injected on it (relais_cli.infra.faults). The fault methods are synchronous: the fault
injector runs them from its own thread."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from relais_cli.infra import faults, isolated
from relais_cli.infra.base import InfraError
from relais_cli.infra.isolated import CHAOS, IsolatedInfra


def default_state_dir() -> Path:
    return isolated.default_state_dir("chaos")


class ChaosInfra(IsolatedInfra):
    """Start, kill, restart and stop the isolated components of a chaos run."""

    def __init__(self, *, state_dir: Path) -> None:
        super().__init__(name="chaos", state_dir=state_dir, ports=CHAOS)

    def discard(self) -> None:
        """Stop everything at once (the next run wipes the state anyway): kill -9 of Kafka
        and PostgreSQL, the SMTP catcher stopped."""
        with contextlib.suppress(InfraError):
            self.kill_kafka()
        with contextlib.suppress(InfraError):
            self.kill_postgres()
        self.stop_smtp()
        asyncio.run(self.down())

    def kill_kafka(self) -> int:
        """kill -9 of the broker; returns its pid once it is gone."""
        return asyncio.run(faults.kill_kafka(self.settings))

    def start_kafka(self) -> None:
        asyncio.run(faults.restart_kafka(self.settings))

    def kill_postgres(self) -> int:
        """kill -9 of the postmaster and of every backend: the server vanishes at once."""
        return asyncio.run(faults.kill_postgres(self.settings))

    def start_postgres(self) -> None:
        """Start the cluster again (crash recovery), provisioning nothing new."""
        asyncio.run(faults.restart_postgres(self.settings))

    def stop_smtp(self) -> None:
        asyncio.run(faults.stop_smtp(self.settings))

    def start_smtp(self) -> None:
        asyncio.run(faults.restart_smtp(self.settings))
