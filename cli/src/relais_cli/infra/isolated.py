"""An isolated copy of the local infrastructure, for the commands that flood or kill it.

`relais chaos` kills brokers and databases, `relais fuzz` floods topics with garbage:
neither may touch the shared infrastructure of `relais infra` that other people's tests
and demos use, nor each other's. Rules:
- each has its own state dir and its own loopback ports (`CHAOS`, `FUZZ`), started,
  stopped and killed through the same code as `relais infra`, pointed there by an
  `InfraSettings` built here, never by changing the shared defaults;
- a port of ours answered by something this state dir did not start is an error,
  never a target; the ports and state dir of another Relais are refused outright;
- each run starts from nothing: what the previous run left (Kafka data, the
  PostgreSQL cluster of this state dir, mail) is stopped and deleted first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from relais_cli.infra import faults, process, smtp, stack
from relais_cli.infra.base import InfraError, Reporter, SilentReporter
from relais_cli.infra.paths import COMPONENTS
from relais_cli.infra.settings import InfraSettings
from relais_cli.infra.topics import apply_topics
from relais_cli.topics_cmd import registry_specs

SERVICES = ("tracker", "detector", "notifier", "chat", "actions", "insights")


@dataclass(frozen=True)
class IsolatedPorts:
    kafka: int
    kafka_controller: int
    postgres: int
    smtp: int
    first_service: int
    """The tracker's port; the other services follow in `SERVICES` order."""

    @property
    def services(self) -> dict[str, int]:
        return {name: self.first_service + index for index, name in enumerate(SERVICES)}

    def all(self) -> tuple[int, ...]:
        return (
            self.kafka,
            self.kafka_controller,
            self.postgres,
            self.smtp,
            *self.services.values(),
        )


SHARED = IsolatedPorts(9092, 9093, 5432, 1025, 8001)
"""The shared infrastructure of `relais infra` and `relais up` (never isolated)."""
CHAOS = IsolatedPorts(19092, 19093, 15432, 11025, 18001)
FUZZ = IsolatedPorts(29092, 29093, 25432, 21025, 28001)
STATE_DIRS = {"chaos": "relais-chaos", "fuzz": "relais-fuzz"}


def default_state_dir(name: str) -> Path:
    return Path.home() / ".local" / "state" / STATE_DIRS[name]


class IsolatedInfra:
    """Start and stop the isolated components of one command (`name`: chaos or fuzz)."""

    def __init__(self, *, name: str, state_dir: Path, ports: IsolatedPorts) -> None:
        others = [SHARED, *(p for n, p in (("chaos", CHAOS), ("fuzz", FUZZ)) if n != name)]
        taken = sorted(set(ports.all()) & {port for other in others for port in other.all()})
        if taken:
            raise InfraError(f"{name} ports {taken} belong to another Relais infrastructure")
        state_dir = state_dir.expanduser().absolute()
        foreign = {InfraSettings().state_dir} | {
            default_state_dir(other) for other in STATE_DIRS if other != name
        }
        if state_dir in foreign:
            raise InfraError(f"{state_dir} is the state dir of another Relais")
        self.name = name
        self.ports = ports
        self.database_url = f"postgresql://relais:relais@127.0.0.1:{ports.postgres}/relais"
        self.settings = InfraSettings(
            state_dir=state_dir,
            database_url=self.database_url,
            kafka_port=ports.kafka,
            kafka_controller_port=ports.kafka_controller,
            kafka_bootstrap_override=None,
            smtp_port=ports.smtp,
        )

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_local

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    @property
    def mail_dir(self) -> Path:
        return self.settings.paths.mail_dir

    def environment(self) -> dict[str, str]:
        """The caller's environment without RELAIS_*, OTEL_* and DATABASE_URL (nothing may
        point a service at the shared infrastructure by accident), pointed at ours."""
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RELAIS_", "OTEL_")) and key != "DATABASE_URL"
        }
        return base | {
            "RELAIS_STATE_DIR": str(self.state_dir),
            "RELAIS_KAFKA_BOOTSTRAP": self.bootstrap,
            "RELAIS_KAFKA_PORT": str(self.ports.kafka),
            "RELAIS_KAFKA_CONTROLLER_PORT": str(self.ports.kafka_controller),
            "RELAIS_DATABASE_URL": self.database_url,
            "RELAIS_SMTP_PORT": str(self.ports.smtp),
            "RELAIS_SMTP_HOST": "127.0.0.1",
        }

    async def check_ports_free(self) -> None:
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
                    f"port {port} is in use by something this {self.name} state dir did not "
                    f"start ({self.state_dir}); is another {self.name} run going on?"
                )

    async def reset(self) -> None:
        """Stop what the previous run left and delete its state."""
        await self.down()
        stack.purge(self.settings)

    async def up(self, *, reporter: Reporter | None = None) -> None:
        """Start the three components from nothing and create the registry's topics."""
        await self.check_ports_free()
        outcomes = await stack.up_all(
            self.settings, names=COMPONENTS, reporter=reporter or SilentReporter()
        )
        failed = [outcome for outcome in outcomes if not outcome.ok]
        if failed:
            raise InfraError("; ".join(f"{o.component}: {o.detail}" for o in failed))
        await apply_topics(bootstrap=self.bootstrap, specs=registry_specs())

    async def down(self) -> None:
        await stack.down_all(self.settings, names=COMPONENTS, reporter=SilentReporter())
