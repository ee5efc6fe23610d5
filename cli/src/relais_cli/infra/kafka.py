"""Local Kafka: a single-node KRaft broker+controller assembled from Maven Central.

Rules:
- the jars are fetched once with mvn (deploy/kafka/pom.xml) into the cache, outside the
  repository; a marker holding the pom's digest is written after a complete fetch, so an
  interrupted fetch or a changed pom fetches again;
- the storage is formatted once (meta.properties present means formatted);
- `up` returns only when a metadata request to the broker succeeds;
- a broker that answers on the port but was not started by `up` is used, never stopped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import string
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from relais_cli.infra import daemon, process
from relais_cli.infra.base import Action, ComponentStatus, InfraError, Outcome, Reporter
from relais_cli.infra.daemon import Daemon
from relais_cli.infra.paths import kafka_deploy_dir
from relais_cli.infra.settings import LOOPBACK, InfraSettings

NAME = "kafka"
KAFKA_VERSION = "4.1.1"
NODE_ID = 1
DEFAULT_PARTITIONS = 3
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
STOP_GRACE_S = 30.0
MARKER_NAME = ".complete"


def libs_dir(settings: InfraSettings) -> Path:
    """Where the broker's runtime classpath is cached (one directory per Kafka version)."""
    return settings.cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"


def render_server_properties(
    template: str,
    *,
    host: str,
    broker_port: int,
    controller_port: int,
    log_dir: Path,
    node_id: int = NODE_ID,
    num_partitions: int = DEFAULT_PARTITIONS,
) -> str:
    """Fill the server.properties template; every placeholder must be known."""
    if "," in str(log_dir):
        raise InfraError(f"the Kafka data dir may not contain a comma: {log_dir}")
    values = {
        "host": host,
        "broker_port": broker_port,
        "controller_port": controller_port,
        "log_dirs": str(log_dir).replace("\\", "\\\\"),
        "node_id": node_id,
        "num_partitions": num_partitions,
    }
    try:
        return string.Template(template).substitute(values)
    except (KeyError, ValueError) as error:
        raise InfraError(f"bad placeholder in server.properties.template: {error}") from None


def parse_properties(text: str) -> dict[str, str]:
    """key=value lines of a simple .properties file (comments and blanks skipped)."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        result[key.strip()] = value.strip()
    return result


def new_cluster_id(raw: bytes | None = None) -> str:
    """A KRaft cluster id: a UUID as 22 characters of URL-safe base64, like `random-uuid`."""
    data = raw if raw is not None else uuid.uuid4().bytes
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def java_executable(settings: InfraSettings) -> str:
    """$JAVA_HOME/bin/java when JAVA_HOME is set, else `java` from PATH."""
    if settings.java_home is not None:
        candidate = settings.java_home / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise InfraError("java not found: install Java 17 (apt-get install openjdk-17-jre)")
    return found


def java_command(
    *, java: str, libs: Path, log4j_config: Path, main_class: str, args: tuple[str, ...]
) -> list[str]:
    """The JVM command line for one of Kafka's main classes."""
    return [
        java,
        *JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j_config}",
        "-cp",
        f"{libs}/*",
        main_class,
        *args,
    ]


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def libs_complete(libs: Path, *, pom: Path) -> bool:
    """True when a fetch with this exact pom finished into `libs`."""
    marker = libs / MARKER_NAME
    return marker.is_file() and marker.read_text().strip() == _pom_digest(pom)


async def ensure_libs(settings: InfraSettings, *, reporter: Reporter) -> Path:
    """Fetch the runtime jars with mvn unless a complete fetch is already cached."""
    deploy = kafka_deploy_dir()
    pom = deploy / "pom.xml"
    libs = libs_dir(settings)
    if libs_complete(libs, pom=pom):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("mvn not found: install Maven (apt-get install maven)")
    reporter.step(NAME, f"fetching Kafka {KAFKA_VERSION} jars from Maven Central into {libs}")
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    log_file = settings.paths.log("kafka-fetch")
    process.rotate_log(log_file)
    result = await process.run(
        [
            mvn,
            "-B",
            "-q",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ],
        log_file=log_file,
        cwd=deploy,
    )
    if not result.ok or not any(staging.glob("kafka_2.13-*.jar")):
        raise InfraError(process.describe_failure("mvn could not fetch Kafka", log_file=log_file))
    shutil.rmtree(libs, ignore_errors=True)
    staging.replace(libs)
    (libs / MARKER_NAME).write_text(_pom_digest(pom) + "\n")
    return libs


def write_server_properties(settings: InfraSettings) -> Path:
    """Render deploy/kafka/server.properties.template into the state dir."""
    paths = settings.paths
    template = (kafka_deploy_dir() / "server.properties.template").read_text()
    text = render_server_properties(
        template,
        host=LOOPBACK,
        broker_port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        log_dir=paths.kafka_data,
    )
    paths.kafka_properties.write_text(text)
    return paths.kafka_properties


async def format_storage(settings: InfraSettings, *, libs: Path, reporter: Reporter) -> None:
    """Format the KRaft storage once; a data dir with meta.properties is left as it is."""
    paths = settings.paths
    if (paths.kafka_data / "meta.properties").is_file():
        return
    reporter.step(NAME, f"formatting storage in {paths.kafka_data}")
    paths.kafka_data.mkdir(parents=True, exist_ok=True)
    argv = java_command(
        java=java_executable(settings),
        libs=libs,
        log4j_config=kafka_deploy_dir() / "log4j2.yaml",
        main_class=STORAGE_TOOL,
        # `--cluster-id=<id>` in one word: an id may start with "-" (URL-safe base64),
        # which the tool's parser would take for an option.
        args=("format", f"--cluster-id={new_cluster_id()}", "-c", str(paths.kafka_properties)),
    )
    log_file = paths.log(NAME)
    result = await process.run(argv, log_file=log_file)
    if not result.ok:
        raise InfraError(
            process.describe_failure("formatting the Kafka storage failed", log_file=log_file)
        )


def _daemon(settings: InfraSettings) -> Daemon:
    return Daemon(
        component=NAME,
        pid_file=settings.paths.pid(NAME),
        log_file=settings.paths.log(NAME),
        markers=(MAIN_CLASS, str(settings.paths.kafka_properties)),
        port=settings.kafka_port,
        stop_grace_s=STOP_GRACE_S,
    )


async def metadata_ok(bootstrap: str, *, timeout_s: float) -> bool:
    """True when the broker answers a metadata request naming at least one broker."""
    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(1000, int(timeout_s * 1000))
    )
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:  # any failure means "not ready yet"
        return False
    finally:
        await admin.close()


async def wait_ready(
    settings: InfraSettings, *, pid: int, started: float, reporter: Reporter
) -> None:
    """Poll until a metadata request succeeds; fail early when the broker process exits.

    The deadline (RELAIS_KAFKA_READY_TIMEOUT_S) counts from `started`, the broker's launch.
    """
    deadline = started + settings.kafka_ready_timeout_s
    while time.monotonic() < deadline:
        if not process.is_running(pid):
            raise InfraError(
                process.describe_failure(
                    "Kafka exited during start-up", log_file=settings.paths.log(NAME)
                )
            )
        elapsed = time.monotonic() - started
        reporter.waiting(NAME, f"waiting for the broker to answer metadata ({elapsed:.0f} s)")
        if await process.port_open(LOOPBACK, settings.kafka_port) and await metadata_ok(
            settings.kafka_bootstrap_local, timeout_s=3.0
        ):
            return
        await asyncio.sleep(0.5)
    raise InfraError(
        process.describe_failure(
            f"Kafka did not answer within {settings.kafka_ready_timeout_s:.0f} s",
            log_file=settings.paths.log(NAME),
        )
    )


async def up(settings: InfraSettings, *, reporter: Reporter) -> Outcome:
    """Start the broker unless it already runs; return once it answers metadata requests.

    A broker that `up` started but that does not answer in time is stopped again, so the
    next `up` starts from scratch.
    """
    started = time.monotonic()
    broker = _daemon(settings)
    pid = process.adopt_pid(broker.pid_file, markers=broker.markers)
    if pid is not None:
        await wait_ready(settings, pid=pid, started=started, reporter=reporter)
        return daemon.outcome(broker, action=Action.RUNNING, started=started, detail=f"pid {pid}")
    process.remove_pid(broker.pid_file)
    if await process.port_open(LOOPBACK, settings.kafka_port):
        if await metadata_ok(settings.kafka_bootstrap_local, timeout_s=5.0):
            detail = "a broker not started by relais"
            return daemon.outcome(broker, action=Action.EXTERNAL, started=started, detail=detail)
        raise InfraError(f"port {settings.kafka_port} is taken by something that is not Kafka")
    pid = await _start(settings, reporter=reporter)
    try:
        await wait_ready(settings, pid=pid, started=time.monotonic(), reporter=reporter)
    except InfraError:
        await process.terminate(pid, markers=broker.markers, grace_s=STOP_GRACE_S)
        process.remove_pid(broker.pid_file)
        raise
    return daemon.outcome(broker, action=Action.STARTED, started=started, detail=f"pid {pid}")


async def _start(settings: InfraSettings, *, reporter: Reporter) -> int:
    paths = settings.paths
    paths.ensure()
    libs = await ensure_libs(settings, reporter=reporter)
    properties = write_server_properties(settings)
    process.rotate_log(paths.log(NAME))
    await format_storage(settings, libs=libs, reporter=reporter)
    argv = java_command(
        java=java_executable(settings),
        libs=libs,
        log4j_config=kafka_deploy_dir() / "log4j2.yaml",
        main_class=MAIN_CLASS,
        args=(str(properties),),
    )
    reporter.step(NAME, f"starting the broker on {settings.kafka_bootstrap_local}")
    child = process.spawn(argv, log_file=paths.log(NAME), cwd=paths.kafka_dir, env=_java_env())
    process.write_pid(paths.pid(NAME), child.pid)
    return child.pid


def _java_env() -> Mapping[str, str]:
    """Our environment minus variables that would change how the JVM starts."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "KAFKA_OPTS", "CLASSPATH"}
    }


async def down(settings: InfraSettings, *, reporter: Reporter) -> Outcome:
    """Stop the broker if `up` started it (controlled shutdown, SIGKILL after a grace period)."""
    return await daemon.stop(_daemon(settings), reporter=reporter)


async def status(settings: InfraSettings) -> ComponentStatus:
    """Up when a metadata request succeeds; `pid` only when `up` started the broker."""
    broker = _daemon(settings)
    pid = daemon.running_pid(broker)
    answers = await process.port_open(LOOPBACK, settings.kafka_port) and await metadata_ok(
        settings.kafka_bootstrap_local, timeout_s=3.0
    )
    detail = "" if answers or pid is None else "process runs but does not answer yet"
    return daemon.status_row(broker, pid=pid, answers=answers, detail=detail)
