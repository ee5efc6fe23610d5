"""Test infrastructure shared by every tier.

Integration tests talk to a real Kafka broker and a real PostgreSQL:
- where a Docker engine answers, testcontainers starts them;
- otherwise the local infrastructure (`relais infra up`) is used, and started if
  it is not running.
Each test gets its own PostgreSQL schema and its own topics, so tests never see
each other's data.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A service started by a test reads what the test produces, not every earlier
# run's history on the shared topics (relais_runtime.offsets).
os.environ.setdefault("RELAIS_CONSUMER_NEW_GROUPS_START", "now")


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap: str
    database_url: str
    origin: str


def _docker_engine_answers() -> bool:
    if os.environ.get("RELAIS_TESTS_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def run_relais(*args: str, env: dict[str, str] | None = None) -> None:
    """Run the `relais` CLI as a subprocess (the way a user does)."""
    subprocess.run(
        [sys.executable, "-m", "relais_cli.main", *args],
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with (
            KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
            PostgresContainer(
                "postgres:16", username="relais", password="relais", dbname="relais"
            ) as postgres,
        ):
            infra = Infrastructure(
                kafka_bootstrap=kafka.get_bootstrap_server(),
                database_url=postgres.get_connection_url(driver=None),
                origin="testcontainers",
            )
            run_relais("topics", "apply", env={"RELAIS_KAFKA_BOOTSTRAP": infra.kafka_bootstrap})
            yield infra
        return
    run_relais("infra", "up")
    run_relais("topics", "apply")
    yield Infrastructure(
        kafka_bootstrap=os.environ.get("RELAIS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        database_url=os.environ.get(
            "RELAIS_DATABASE_URL",
            os.environ.get("DATABASE_URL", "postgresql://relais:relais@127.0.0.1:5432/relais"),
        ),
        origin="local",
    )


def free_port() -> int:
    """A TCP port nobody listens on at this instant, on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def drop_schemas(database_url: str, schemas: Iterable[str]) -> None:
    """Drop test schemas (and everything in them); a schema already gone is fine."""
    connection = await asyncpg.connect(database_url)
    try:
        for schema in schemas:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
