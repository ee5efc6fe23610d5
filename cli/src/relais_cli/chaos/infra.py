"""The isolated infrastructure of a chaos run: its own Kafka, PostgreSQL and SMTP catcher.

Rules:
- never the shared local infrastructure: its own state dir (default
  ~/.local/state/relais-chaos) and its own loopback ports (Kafka 19092/19093, PostgreSQL
  15432, SMTP 11025, services 18001-18006); it is started, killed and stopped through
  the same code as `relais infra` (relais_cli.infra), pointed at that state dir and
  those ports by an `InfraSettings` built here, never by editing the shared defaults;
- a port of ours answered by something we did not start is an error, never a target;
- each run starts from nothing: the previous run's state (Kafka data, the PostgreSQL
  cluster of this state dir, mail) is stopped and deleted first;
- the services get an environment with no RELAIS_* variable of the caller (a test's
  RELAIS_CONSUMER_NEW_GROUPS_START or a shell's DATABASE_URL must not leak in).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from relais_cli.infra import faults, process, smtp, stack
from relais_cli.infra.base import InfraError, SilentReporter
from relais_cli.infra.paths import COMPONENTS
from relais_cli.infra.settings import InfraSettings
from relais_cli.infra.topics import apply_topics
from relais_cli.topics_cmd import registry_specs

SHARED_PORTS = (9092, 9093, 5432, 1025, 8001, 8002, 8003, 8004, 8005, 8006)


def default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "relais-chaos"


@dataclass(frozen=True)
class ChaosPorts:
    kafka: int = 19092
    kafka_controller: int = 19093
    postgres: int = 15432
    smtp: int = 11025
    services: dict[str, int] = field(
        default_factory=lambda: {
            "tracker": 18001,
            "detector": 18002,
            "notifier": 18003,
            "chat": 18004,
            "actions": 18005,
            "insights": 18006,
        }
    )

    def all(self) -> tuple[int, ...]:
        return (
            self.kafka,
            self.kafka_controller,
            self.postgres,
            self.smtp,
            *self.services.values(),
        )


class ChaosInfra:
    """Start, kill, restart and stop the isolated components."""

    def __init__(self, *, state_dir: Path, ports: ChaosPorts | None = None) -> None:
        self.ports = ports or ChaosPorts()
        shared = sorted(set(self.ports.all()) & set(SHARED_PORTS))
        if shared:
            raise InfraError(f"chaos ports {shared} are the shared infrastructure's")
        if state_dir.expanduser().absolute() == InfraSettings().state_dir:
            raise InfraError(f"{state_dir} is the shared state dir")
        self.database_url = f"postgresql://relais:relais@127.0.0.1:{self.ports.postgres}/relais"
        self.settings = InfraSettings(
            state_dir=state_dir,
            database_url=self.database_url,
            kafka_port=self.ports.kafka,
            kafka_controller_port=self.ports.kafka_controller,
            kafka_bootstrap_override=None,
            smtp_port=self.ports.smtp,
        )

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_local

    @property
    def mail_dir(self) -> Path:
        return self.settings.paths.mail_dir

    def environment(self) -> dict[str, str]:
        """The caller's environment without RELAIS_* and DATABASE_URL, pointed at ours."""
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RELAIS_", "OTEL_")) and key != "DATABASE_URL"
        }
        return base | {
            "RELAIS_STATE_DIR": str(self.settings.state_dir),
            "RELAIS_KAFKA_BOOTSTRAP": self.bootstrap,
            "RELAIS_KAFKA_PORT": str(self.ports.kafka),
            "RELAIS_KAFKA_CONTROLLER_PORT": str(self.ports.kafka_controller),
            "RELAIS_DATABASE_URL": self.database_url,
            "RELAIS_SMTP_PORT": str(self.ports.smtp),
            "RELAIS_SMTP_HOST": "127.0.0.1",
        }

    async def _check_ports_free(self) -> None:
        """Every port of ours must be closed or answered by a process of this state dir."""
        owned = {
            self.ports.kafka: faults.kafka_pid(self.settings),
            self.ports.smtp: process.owned_pid(
                self.settings.paths.pid(smtp.NAME), markers=(smtp.MODULE,)
            ),
            self.ports.postgres: faults.postgres_pid(self.settings),
        }
        for port in self.ports.all():
            if owned.get(port) is None and await process.port_open("127.0.0.1", port):
                raise InfraError(
                    f"port {port} is in use by something this chaos state dir did not start "
                    f"({self.settings.state_dir}); is another chaos run going on?"
                )

    def reset(self) -> None:
        """Stop what the previous run left and delete its state."""
        asyncio.run(stack.down_all(self.settings, names=COMPONENTS, reporter=SilentReporter()))
        stack.purge(self.settings)

    def up(self) -> None:
        """Start the three components from nothing and create the topics."""
        asyncio.run(self._check_ports_free())
        outcomes = asyncio.run(
            stack.up_all(self.settings, names=COMPONENTS, reporter=SilentReporter())
        )
        failed = [outcome for outcome in outcomes if not outcome.ok]
        if failed:
            raise InfraError("; ".join(f"{o.component}: {o.detail}" for o in failed))
        asyncio.run(apply_topics(bootstrap=self.bootstrap, specs=registry_specs()))

    def down(self) -> None:
        asyncio.run(stack.down_all(self.settings, names=COMPONENTS, reporter=SilentReporter()))

    def discard(self) -> None:
        """Stop everything at once (the next run wipes the state anyway): kill -9 of Kafka
        and PostgreSQL, the SMTP catcher stopped."""
        with contextlib.suppress(InfraError):
            self.kill_kafka()
        with contextlib.suppress(InfraError):
            self.kill_postgres()
        self.stop_smtp()
        self.down()

    # Faults (relais_cli.infra.faults, on this run's settings)

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
