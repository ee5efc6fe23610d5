"""A secured Kafka broker and a TLS PostgreSQL, with certificates made at test time.

- certificates: a throw-away CA signs a server certificate for 127.0.0.1/localhost and a
  client certificate (openssl, which Debian's postgresql package brings along);
- Kafka: its own single-node KRaft broker from the jars `relais infra up` fetched, with a
  SASL_SSL listener (SCRAM-SHA-512 and PLAIN users) and an SSL listener that requires a
  client certificate; the controller and inter-broker listeners stay on loopback;
- PostgreSQL: its own cluster (the infra code, in its own state dir and port) with ssl on.
Nothing touches the shared infrastructure; everything is deleted at the end.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from relais_cli.infra import kafka as infra_kafka
from relais_cli.infra import postgres, process, stack
from relais_cli.infra.base import SilentReporter
from relais_cli.infra.settings import InfraSettings
from tests.conftest import free_port

SCRAM_USER = "relais-scram"
PLAIN_USER = "relais-plain"
PASSWORD = "test-only-Kafka-password-0123456789"
TLS_STATE_DIR = Path.home() / ".local" / "state" / "relais-tls-test"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl not found (it comes with Debian's postgresql package)")
    subprocess.run([openssl, *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path) -> Certificates:
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Relais test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    for name, extensions in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (directory / f"{name}.ext").write_text(extensions)
        _openssl(
            "req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN=relais-{name}", cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
            "-extfile", f"{name}.ext", cwd=directory,
        )  # fmt: skip
    return Certificates(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )


def secured_server_properties(
    *,
    ports: dict[str, int],
    log_dir: Path,
    keystore: Path,
    truststore: Path,
    plain_users: dict[str, str],
) -> str:
    """KRaft single node: PLAINTEXT only between the broker and its own controller."""
    host = "127.0.0.1"
    plain = " ".join(f'user_{name}="{password}"' for name, password in plain_users.items())
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{ports['controller']}",
            f"listeners=INTERNAL://{host}:{ports['internal']},SASL_SSL://{host}:{ports['sasl_ssl']},"
            f"SSL://{host}:{ports['ssl']},CONTROLLER://{host}:{ports['controller']}",
            f"advertised.listeners=INTERNAL://{host}:{ports['internal']},"
            f"SASL_SSL://{host}:{ports['sasl_ssl']},SSL://{host}:{ports['ssl']}",
            "listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "SASL_SSL:SASL_SSL,SSL:SSL",
            "inter.broker.listener.name=INTERNAL",
            "controller.listener.names=CONTROLLER",
            "sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.sasl_ssl.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain};",
            "listener.name.ssl.ssl.client.auth=required",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={truststore}",
            f"log.dirs={log_dir}",
            "num.partitions=2",
            "auto.create.topics.enable=false",
            "offsets.topic.num.partitions=3",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.num.partitions=3",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "default.replication.factor=1",
            "min.insync.replicas=1",
            "group.initial.rebalance.delay.ms=0",
            "num.network.threads=2",
            "num.io.threads=2",
            "",
        ]
    )


@dataclass(frozen=True)
class SecuredKafka:
    sasl_ssl: str
    ssl: str
    plaintext_internal: str


@asynccontextmanager
async def secured_kafka(directory: Path, certificates: Certificates) -> AsyncIterator[SecuredKafka]:
    """Start a broker with SASL_SSL and SSL (client certificate required) listeners."""
    shared = InfraSettings()
    libs = await infra_kafka.ensure_libs(shared, reporter=SilentReporter())
    ports = {name: free_port() for name in ("internal", "sasl_ssl", "ssl", "controller")}
    keystore = _write_keystore(directory, certificates)
    properties = directory / "server.properties"
    properties.write_text(
        secured_server_properties(
            ports=ports,
            log_dir=directory / "data",
            keystore=keystore,
            truststore=certificates.ca,
            plain_users={PLAIN_USER: PASSWORD},
        )
    )
    java = infra_kafka.java_executable(shared)
    log4j = infra_kafka.kafka_deploy_dir() / "log4j2.yaml"
    log_file = directory / "kafka.log"
    scram = f"SCRAM-SHA-512=[name={SCRAM_USER},password={PASSWORD}]"
    format_args = (
        "format", f"--cluster-id={infra_kafka.new_cluster_id()}", "-c", str(properties),
        "--add-scram", scram,
    )  # fmt: skip
    formatted = await process.run(
        infra_kafka.java_command(
            java=java, libs=libs, log4j_config=log4j, main_class=infra_kafka.STORAGE_TOOL,
            args=format_args,
        ),
        log_file=log_file,
    )  # fmt: skip
    if not formatted.ok:
        raise RuntimeError(f"formatting the secured broker failed: see {log_file}")
    child = process.spawn(
        infra_kafka.java_command(
            java=java, libs=libs, log4j_config=log4j, main_class=infra_kafka.MAIN_CLASS,
            args=(str(properties),),
        ),
        log_file=log_file,
        cwd=directory,
    )  # fmt: skip
    internal = f"127.0.0.1:{ports['internal']}"
    try:
        await _wait_for_broker(internal, pid=child.pid, log_file=log_file)
        yield SecuredKafka(
            sasl_ssl=f"127.0.0.1:{ports['sasl_ssl']}",
            ssl=f"127.0.0.1:{ports['ssl']}",
            plaintext_internal=internal,
        )
    finally:
        await process.terminate(child.pid, markers=(str(properties),), grace_s=20)


def _write_keystore(directory: Path, certificates: Certificates) -> Path:
    """Kafka's PEM keystore: the private key (PKCS#8, unencrypted) then the certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    keystore = directory / "server-keystore.pem"
    keystore.write_text(certificates.server_key.read_text() + certificates.server_cert.read_text())
    return keystore


async def _wait_for_broker(bootstrap: str, *, pid: int, log_file: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not process.is_running(pid):
            raise RuntimeError(f"the secured broker exited: see {log_file}")
        if await infra_kafka.metadata_ok(bootstrap, timeout_s=3.0):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the secured broker did not answer in 90 s: see {log_file}")


@dataclass(frozen=True)
class TlsPostgres:
    host_port: str
    """127.0.0.1:<port>, with the provisioned role relais/relais and database relais."""

    def url(self, query: str = "") -> str:
        return f"postgresql://relais:relais@{self.host_port}/relais" + (
            f"?{query}" if query else ""
        )


@asynccontextmanager
async def tls_postgres(certificates: Certificates) -> AsyncIterator[TlsPostgres]:
    """A PostgreSQL cluster of its own with ssl on, certificates from `certificates`."""
    port = free_port()
    settings = InfraSettings(
        state_dir=TLS_STATE_DIR,
        database_url=f"postgresql://relais:relais@127.0.0.1:{port}/relais",
    )
    await stack.down_all(settings, names=("postgres",), reporter=SilentReporter())
    stack.purge(settings)
    outcomes = await stack.up_all(settings, names=("postgres",), reporter=SilentReporter())
    if not all(outcome.ok for outcome in outcomes):
        raise RuntimeError(f"the TLS PostgreSQL did not start: {outcomes}")
    try:
        await _enable_ssl(settings, port, certificates)
        yield TlsPostgres(host_port=f"127.0.0.1:{port}")
    finally:
        await stack.down_all(settings, names=("postgres",), reporter=SilentReporter())
        stack.purge(settings)


async def _enable_ssl(settings: InfraSettings, port: int, certificates: Certificates) -> None:
    """Copy the server certificate into the data dir (owned by the cluster's OS user, key
    0600) and turn ssl on with a reload: ALTER SYSTEM as superuser over the local socket."""
    layout = postgres.cluster_layout(settings)
    for source, name in (
        (certificates.server_cert, "server.crt"),
        (certificates.server_key, "server.key"),
    ):
        target = layout.data / name
        shutil.copyfile(source, target)
        target.chmod(0o600)
        if layout.run_as is not None:
            shutil.chown(target, user=layout.run_as, group=layout.run_as)
    connection = await asyncpg.connect(
        host=str(layout.socket_dir), port=port, user=postgres.SUPERUSER, database="postgres"
    )
    try:
        await connection.execute("ALTER SYSTEM SET ssl = 'on'")
        await connection.execute("ALTER SYSTEM SET ssl_cert_file = 'server.crt'")
        await connection.execute("ALTER SYSTEM SET ssl_key_file = 'server.key'")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()
