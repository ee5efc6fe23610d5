"""Layout of the state directory and of the repository files the infrastructure reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from relais_cli.infra.base import InfraError

COMPONENTS = ("kafka", "postgres", "smtp")


@dataclass(frozen=True)
class StatePaths:
    """State dir layout: kafka/, postgres/, mail/ (a Maildir), logs/<component>.log, pids/."""

    root: Path

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def mail_dir(self) -> Path:
        return self.root / "mail"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.root / "pids"

    def log(self, component: str) -> Path:
        """The file a component's stdout and stderr go to."""
        return self.logs_dir / f"{component}.log"

    def pid(self, component: str) -> Path:
        """Present only while a process that `up` started is (believed to be) running."""
        return self.pids_dir / f"{component}.pid"

    def ensure(self) -> None:
        for directory in (self.kafka_dir, self.postgres_dir, self.logs_dir, self.pids_dir):
            directory.mkdir(parents=True, exist_ok=True)


def kafka_deploy_dir(start: Path | None = None) -> Path:
    """deploy/kafka of the checkout this CLI runs from (pom.xml, log4j2.yaml, template).

    The CLI is installed editable from the workspace, so the checkout is an ancestor of
    this file; the current directory is tried as well.
    """
    here = (start or Path(__file__)).resolve()
    for candidate in (*here.parents, Path.cwd()):
        deploy = candidate / "deploy" / "kafka"
        if (deploy / "pom.xml").is_file():
            return deploy
    raise InfraError("deploy/kafka/pom.xml not found: run relais from a checkout of the repository")
