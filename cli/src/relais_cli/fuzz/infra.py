"""The isolated infrastructure of a fuzz run: its own Kafka, PostgreSQL and SMTP catcher.

Rules:
- never the shared local infrastructure: its own state dir (default
  ~/.local/state/relais-fuzz) and its own loopback ports (Kafka 29092/29093, PostgreSQL
  25432, SMTP 21025, services 28001-28006), started and stopped through the same code
  as `relais infra` (relais_cli.infra) with an `InfraSettings` built here, never by
  changing the shared defaults;
- a port of ours answered by something this state dir did not start is an error,
  never a target;
- each run starts from nothing: what the previous run left (Kafka data, the
  PostgreSQL cluster of this state dir, mail) is stopped and deleted first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from relais_cli.infra import kafka, postgres, process, smtp, stack
from relais_cli.infra.base import InfraError, Reporter, SilentReporter
from relais_cli.infra.paths import COMPONENTS
from relais_cli.infra.settings import InfraSettings
from relais_cli.infra.topics import apply_topics
from relais_cli.topics_cmd import registry_specs

SHARED_PORTS = (9092, 9093, 5432, 1025, 8001, 8002, 8003, 8004, 8005, 8006)
CHAOS_PORTS = (19092, 19093, 15432, 11025, 18001, 18002, 18003, 18004, 18005, 18006)
SERVICES = ("tracker", "detector", "notifier", "chat", "actions", "insights")


def default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "relais-fuzz"


@dataclass(frozen=True)
class FuzzPorts:
    kafka: int = 29092
    kafka_controller: int = 29093
    postgres: int = 25432
    smtp: int = 21025
    services: dict[str, int] = field(
        default_factory=lambda: {name: 28001 + index for index, name in enumerate(SERVICES)}
    )

    def all(self) -> tuple[int, ...]:
        return (
            self.kafka,
            self.kafka_controller,
            self.postgres,
            self.smtp,
            *self.services.values(),
        )


class FuzzInfra:
    """Start and stop the isolated components."""

    def __init__(self, *, state_dir: Path, ports: FuzzPorts | None = None) -> None:
        self.ports = ports or FuzzPorts()
        taken = sorted(set(self.ports.all()) & set(SHARED_PORTS + CHAOS_PORTS))
        if taken:
            raise InfraError(f"fuzz ports {taken} belong to the shared or the chaos infrastructure")
        state_dir = state_dir.expanduser().absolute()
        if state_dir in {InfraSettings().state_dir, default_state_dir().parent / "relais-chaos"}:
            raise InfraError(f"{state_dir} is the state dir of another Relais")
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
    def state_dir(self) -> Path:
        return self.settings.state_dir

    async def _check_ports_free(self) -> None:
        """Every port of ours must be closed or answered by a process of this state dir."""
        paths = self.settings.paths
        layout = postgres.cluster_layout(self.settings)
        owned = {
            self.ports.kafka: process.owned_pid(
                paths.pid(kafka.NAME), markers=(kafka.MAIN_CLASS, str(paths.kafka_properties))
            ),
            self.ports.smtp: process.owned_pid(paths.pid(smtp.NAME), markers=(smtp.MODULE,)),
            self.ports.postgres: process.owned_pid(
                layout.data / "postmaster.pid", markers=("postgres", str(layout.data))
            ),
        }
        for port in self.ports.all():
            if owned.get(port) is None and await process.port_open("127.0.0.1", port):
                raise InfraError(
                    f"port {port} is in use by something this fuzz state dir did not start "
                    f"({self.settings.state_dir}); is another fuzz run going on?"
                )

    async def reset(self) -> None:
        """Stop what the previous run left and delete its state."""
        await stack.down_all(self.settings, names=COMPONENTS, reporter=SilentReporter())
        stack.purge(self.settings)

    async def up(self, *, reporter: Reporter | None = None) -> None:
        """Start the three components from nothing and create the registry's topics."""
        await self._check_ports_free()
        outcomes = await stack.up_all(
            self.settings, names=COMPONENTS, reporter=reporter or SilentReporter()
        )
        failed = [outcome for outcome in outcomes if not outcome.ok]
        if failed:
            raise InfraError("; ".join(f"{o.component}: {o.detail}" for o in failed))
        await apply_topics(bootstrap=self.bootstrap, specs=registry_specs())

    async def down(self) -> None:
        await stack.down_all(self.settings, names=COMPONENTS, reporter=SilentReporter())
