"""Local PostgreSQL: use the server DATABASE_URL names, or start a cluster that `up` owns.

Rules, in order:
1. if the role of DATABASE_URL can connect, the server is used as it is;
2. a non-loopback DATABASE_URL is never started or provisioned: that is an error;
3. if a server answers on the loopback port but the role or database is missing, they are
   created through the superuser (our cluster: its private socket; a Debian cluster: the
   `postgres` OS user and psql), never dropped or altered when they exist;
4. otherwise Debian's postgresql package is installed when missing (apt-get, as root or
   with sudo) and a cluster owned by `up` is initialised and started on the loopback port.
PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` OS user
and lives under its home (/var/lib/postgresql/relais-<id>); <state>/postgres/data links
to it. Otherwise it runs as the current user in <state>/postgres/data.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import pwd
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg

from relais_cli.infra import base, process
from relais_cli.infra.base import Action, ComponentStatus, InfraError, Outcome, Reporter
from relais_cli.infra.settings import InfraSettings

NAME = "postgres"
SUPERUSER = "postgres"
OS_USER = "postgres"
PG_LIB = Path("/usr/lib/postgresql")
POSTGRES_HOME = Path("/var/lib/postgresql")
CONF_NAME = "relais.conf"
START_TIMEOUT_S = 60
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DatabaseTarget:
    """Where DATABASE_URL points; `password` is never printed."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ClusterLayout:
    """Directories of the cluster `up` owns; `run_as` is the OS user when we are root."""

    home: Path
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"


@dataclass(frozen=True)
class DebianCluster:
    """One line of `pg_lsclusters -h`."""

    version: str
    name: str
    port: int
    online: bool
    data_dir: str
    log_file: str


def parse_database_url(url: str) -> DatabaseTarget:
    """postgres[ql][+driver]://user:password@host:port/database, with libpq's defaults."""
    parts = urlsplit(url)
    if parts.scheme.split("+", 1)[0] not in {"postgres", "postgresql"}:
        raise InfraError("DATABASE_URL must start with postgresql://")
    user = unquote(parts.username or "postgres")
    return DatabaseTarget(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=user,
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")) or user,
    )


def is_loopback(host: str) -> bool:
    """localhost or a loopback IP: the only places `up` may start a server."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def psql_literal(value: str) -> str:
    """A single-quoted argument of a psql backslash command."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def conf_literal(value: str) -> str:
    """A single-quoted postgresql.conf value."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def provision_script(target: DatabaseTarget, *, reset_password: bool) -> str:
    """psql script creating the role and database of `target` when they are missing.

    Identifiers and literals are quoted by the server (format %I / %L). With
    `reset_password` (only for the cluster `up` owns) an existing role gets the password
    of DATABASE_URL again.
    """
    lines = [
        "\\set ON_ERROR_STOP on",
        f"\\set relais_role {psql_literal(target.user)}",
        f"\\set relais_password {psql_literal(target.password)}",
        f"\\set relais_db {psql_literal(target.database)}",
        "SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L',"
        " :'relais_role', :'relais_password')"
        " WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'relais_role') \\gexec",
    ]
    if reset_password:
        lines.append(
            "SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L',"
            " :'relais_role', :'relais_password') \\gexec"
        )
    lines.append(
        "SELECT format('CREATE DATABASE %I OWNER %I', :'relais_db', :'relais_role')"
        " WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'relais_db') \\gexec"
    )
    return "\n".join(lines) + "\n"


def render_cluster_conf(*, listen: str, port: int, socket_dir: Path) -> str:
    """Settings of the cluster `up` owns, included from its postgresql.conf."""
    return (
        "# Written by `relais infra up` at every start (from DATABASE_URL); do not edit.\n"
        f"listen_addresses = {conf_literal(listen)}\n"
        f"port = {port}\n"
        f"unix_socket_directories = {conf_literal(str(socket_dir))}\n"
    )


def parse_pg_lsclusters(text: str) -> list[DebianCluster]:
    """Clusters listed by `pg_lsclusters -h` (version name port status owner data log)."""
    clusters = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or not fields[2].isdigit():
            continue
        clusters.append(
            DebianCluster(
                version=fields[0],
                name=fields[1],
                port=int(fields[2]),
                online=fields[3].startswith("online"),
                data_dir=fields[5],
                log_file=fields[6] if len(fields) > 6 else "",
            )
        )
    return clusters


def cluster_layout(settings: InfraSettings) -> ClusterLayout:
    """Where the cluster `up` owns lives; one cluster per state dir."""
    if os.geteuid() != 0:
        return ClusterLayout(home=settings.paths.postgres_dir, run_as=None)
    tag = hashlib.sha256(str(settings.state_dir).encode()).hexdigest()[:8]
    return ClusterLayout(home=POSTGRES_HOME / f"relais-{tag}", run_as=OS_USER)


def find_bindir(version: str | None = None) -> Path | None:
    """/usr/lib/postgresql/<version>/bin, the newest installed one when no version is given."""
    found = [path.parent for path in PG_LIB.glob("*/bin/postgres") if path.is_file()]
    if version is not None:
        found = [path for path in found if path.parent.name == version]
    found.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _as_cluster_user(argv: Sequence[str], layout: ClusterLayout) -> list[str]:
    if layout.run_as is None:
        return list(argv)
    return ["runuser", "-u", layout.run_as, "--", *argv]


def _privileged(argv: Sequence[str], *, user: str = "root") -> list[str]:
    """`argv` run as `user`: directly, with runuser when we are root, or with sudo."""
    if os.geteuid() == 0:
        return list(argv) if user == "root" else ["runuser", "-u", user, "--", *argv]
    if shutil.which("sudo") is not None:
        return ["sudo", "-u", user, "--", *argv]
    raise InfraError(f"this step must run as {user}: run relais as root or install sudo")


async def try_connect(target: DatabaseTarget, *, timeout_s: float) -> str | None:
    """None when the role of DATABASE_URL can connect, else the reason it cannot."""
    try:
        connection = await asyncpg.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password,
            database=target.database,
            timeout=timeout_s,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


async def ensure_installed(settings: InfraSettings, *, reporter: Reporter) -> Path:
    """The PostgreSQL bin dir, installing Debian's postgresql package when it is missing."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if shutil.which("apt-get") is None:
        raise InfraError("PostgreSQL is not installed and apt-get is missing: set DATABASE_URL")
    reporter.step(NAME, "installing Debian's postgresql package with apt-get (first run only)")
    log_file = settings.paths.log("postgres-install")
    process.rotate_log(log_file)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "-q", "update"],
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y", "install", "postgresql"],
    ):
        result = await process.run(_privileged(argv), log_file=log_file, env=env)
        if not result.ok:
            raise InfraError(
                process.describe_failure(f"{' '.join(argv)} failed", log_file=log_file)
            )
    bindir = find_bindir()
    if bindir is None:
        raise InfraError(f"postgresql was installed but no {PG_LIB}/*/bin/postgres exists")
    return bindir


def _chown(path: Path, layout: ClusterLayout) -> None:
    if layout.run_as is not None:
        account = pwd.getpwnam(layout.run_as)
        os.chown(path, account.pw_uid, account.pw_gid)


def _prepare_dirs(settings: InfraSettings, layout: ClusterLayout) -> None:
    """Create the cluster's home and socket dir, private to the OS user running postgres."""
    if layout.run_as is not None:
        try:
            pwd.getpwnam(layout.run_as)
        except KeyError:
            raise InfraError(f"OS user {layout.run_as!r} missing: reinstall postgresql") from None
    for directory in (layout.home, layout.socket_dir):
        directory.mkdir(parents=True, exist_ok=True)
        _chown(directory, layout)
        directory.chmod(0o700)
    link = settings.paths.postgres_dir / "data"
    if layout.run_as is not None and not link.is_symlink() and not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(layout.data)


async def _initdb(
    settings: InfraSettings, *, layout: ClusterLayout, bindir: Path, reporter: Reporter
) -> None:
    """Initialise the data dir once: superuser `postgres`, trust on the private socket only."""
    if (layout.data / "PG_VERSION").is_file():
        return
    reporter.step(NAME, f"initialising a cluster in {layout.data}")
    argv = [
        str(bindir / "initdb"),
        "-D",
        str(layout.data),
        "-U",
        SUPERUSER,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
    ]
    log_file = settings.paths.log(NAME)
    result = await process.run(_as_cluster_user(argv, layout), log_file=log_file, cwd=layout.home)
    if not result.ok:
        raise InfraError(process.describe_failure("initdb failed", log_file=log_file))


def _write_conf(target: DatabaseTarget, layout: ClusterLayout) -> None:
    conf = layout.data / CONF_NAME
    conf.write_text(
        render_cluster_conf(listen=target.host, port=target.port, socket_dir=layout.socket_dir)
    )
    _chown(conf, layout)
    conf.chmod(0o600)
    main_conf = layout.data / "postgresql.conf"
    include = f"include_if_exists = {conf_literal(CONF_NAME)}"
    if include not in main_conf.read_text():
        with main_conf.open("a") as handle:
            handle.write(f"\n# Added by relais infra up\n{include}\n")


def _bindir_for(layout: ClusterLayout) -> Path:
    """The binaries matching the major version the data dir was created with."""
    version = (layout.data / "PG_VERSION").read_text().strip()
    bindir = find_bindir(version)
    if bindir is None:
        raise InfraError(
            f"{layout.data} was created by PostgreSQL {version}, which is not installed"
        )
    return bindir


def _markers(layout: ClusterLayout) -> tuple[str, ...]:
    return ("postgres", str(layout.data))


def _our_pid(settings: InfraSettings, layout: ClusterLayout) -> int | None:
    """The postmaster of the cluster `up` owns, if it runs.

    Our pid file is checked first, then the cluster's own postmaster.pid: a server running
    from our data dir is ours even when an interrupted `up` wrote no pid file.
    """
    for pid_file in (settings.paths.pid(NAME), layout.data / "postmaster.pid"):
        pid = process.owned_pid(pid_file, markers=_markers(layout))
        if pid is not None:
            return pid
    return None


async def _start_cluster(
    settings: InfraSettings, *, target: DatabaseTarget, layout: ClusterLayout, reporter: Reporter
) -> int:
    """initdb when needed, then pg_ctl start; returns the postmaster's pid."""
    log_file = settings.paths.log(NAME)
    process.rotate_log(log_file)
    bindir = await ensure_installed(settings, reporter=reporter)
    _prepare_dirs(settings, layout)
    await _initdb(settings, layout=layout, bindir=bindir, reporter=reporter)
    _write_conf(target, layout)
    reporter.step(NAME, f"starting a cluster on {target.address}")
    argv = [
        str(_bindir_for(layout) / "pg_ctl"),
        "start",
        "-w",
        "-t",
        str(START_TIMEOUT_S),
        "-D",
        str(layout.data),
    ]
    result = await process.run(_as_cluster_user(argv, layout), log_file=log_file, cwd=layout.home)
    if not result.ok:
        raise InfraError(process.describe_failure("pg_ctl start failed", log_file=log_file))
    pid = process.read_pid(layout.data / "postmaster.pid")
    if pid is None:
        raise InfraError(process.describe_failure("postmaster.pid missing", log_file=log_file))
    process.write_pid(settings.paths.pid(NAME), pid)
    return pid


async def _provision(
    settings: InfraSettings, *, psql: list[str], target: DatabaseTarget, reset_password: bool
) -> None:
    log_file = settings.paths.log("postgres-provision")
    result = await process.run(
        psql, stdin_text=provision_script(target, reset_password=reset_password), cwd=Path("/")
    )
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text(result.output)
    if not result.ok:
        raise InfraError(
            process.describe_failure(
                f"creating role {target.user!r} and database {target.database!r} failed",
                log_file=log_file,
            )
        )


def _own_psql(layout: ClusterLayout, *, target: DatabaseTarget) -> list[str]:
    """psql as the superuser over the private socket of the cluster `up` owns."""
    psql = str(_bindir_for(layout) / "psql")
    socket = str(layout.socket_dir)
    return [
        psql,
        "-X",
        "-q",
        "-h",
        socket,
        "-p",
        str(target.port),
        "-U",
        SUPERUSER,
        "-d",
        "postgres",
    ]


def _external_psql(target: DatabaseTarget) -> list[str]:
    """psql as the `postgres` OS user over the default socket (Debian's clusters)."""
    bindir = find_bindir()
    psql = shutil.which("psql") or (str(bindir / "psql") if bindir else None)
    if psql is None:
        raise InfraError("psql not found: cannot create the relais role on the running server")
    return _privileged([psql, "-X", "-q", "-p", str(target.port), "-d", "postgres"], user=OS_USER)


async def _verify(target: DatabaseTarget) -> None:
    """Connect as the role of DATABASE_URL, retrying briefly while the server settles."""
    reason: str | None = "not tried"
    for _ in range(20):
        reason = await try_connect(target, timeout_s=CONNECT_TIMEOUT_S)
        if reason is None:
            return
        await asyncio.sleep(0.5)
    raise InfraError(f"cannot connect to {target.address} as {target.user!r}: {reason}")


def _outcome(target: DatabaseTarget, action: Action, started: float, detail: str) -> Outcome:
    return base.timed_outcome(
        component=NAME, action=action, address=target.address, started=started, detail=detail
    )


async def up(settings: InfraSettings, *, reporter: Reporter) -> Outcome:
    """Make DATABASE_URL connectable, starting and provisioning a cluster when needed."""
    started = time.monotonic()
    target = parse_database_url(settings.database_url)
    layout = cluster_layout(settings)
    pid = _our_pid(settings, layout)
    if pid is not None:
        process.write_pid(settings.paths.pid(NAME), pid)
    reason = await try_connect(target, timeout_s=CONNECT_TIMEOUT_S)
    if reason is None:
        if pid is not None:
            return _outcome(target, Action.RUNNING, started, f"pid {pid}")
        return _outcome(target, Action.EXTERNAL, started, "a server not started by relais")
    if not is_loopback(target.host):
        raise InfraError(
            f"DATABASE_URL points to {target.address}, which does not answer: {reason}"
        )
    if pid is not None:
        await _provision_own(settings, target=target, layout=layout, reporter=reporter)
        return _outcome(target, Action.RUNNING, started, f"pid {pid}; role and database created")
    process.remove_pid(settings.paths.pid(NAME))
    if not await process.port_open(target.host, target.port):
        await ensure_installed(settings, reporter=reporter)
    if await process.port_open(target.host, target.port):
        return await _use_external(settings, target=target, started=started, reporter=reporter)
    pid = await _start_cluster(settings, target=target, layout=layout, reporter=reporter)
    await _provision_own(settings, target=target, layout=layout, reporter=None)
    return _outcome(target, Action.STARTED, started, f"pid {pid}")


async def _provision_own(
    settings: InfraSettings,
    *,
    target: DatabaseTarget,
    layout: ClusterLayout,
    reporter: Reporter | None,
) -> None:
    """Create (or re-password) the role and database in the cluster `up` owns, then check."""
    if reporter is not None:
        reporter.step(NAME, f"creating role {target.user!r} and database {target.database!r}")
    psql = _own_psql(layout, target=target)
    await _provision(settings, psql=psql, target=target, reset_password=True)
    await _verify(target)


async def _use_external(
    settings: InfraSettings, *, target: DatabaseTarget, started: float, reporter: Reporter
) -> Outcome:
    """A server not started by relais answers: create the role and database there."""
    reporter.step(
        NAME,
        f"a server answers on {target.address}: creating role {target.user!r} and "
        f"database {target.database!r} as the {OS_USER} OS user",
    )
    await _provision(settings, psql=_external_psql(target), target=target, reset_password=False)
    await _verify(target)
    return _outcome(
        target, Action.EXTERNAL, started, "a server not started by relais; role and db created"
    )


async def down(settings: InfraSettings, *, reporter: Reporter) -> Outcome:
    """Stop the cluster only if `up` started it (pg_ctl stop -m fast)."""
    started = time.monotonic()
    target = parse_database_url(settings.database_url)
    layout = cluster_layout(settings)
    pid_file = settings.paths.pid(NAME)
    pid = _our_pid(settings, layout)
    if pid is None:
        process.remove_pid(pid_file)
        answers = is_loopback(target.host) and await process.port_open(target.host, target.port)
        return _outcome(target, Action.NOT_OURS if answers else Action.NOT_RUNNING, started, "")
    reporter.step(NAME, f"stopping pid {pid}")
    argv = [str(_bindir_for(layout) / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(layout.data)]
    result = await process.run(
        _as_cluster_user(argv, layout), log_file=settings.paths.log(NAME), cwd=layout.home
    )
    if not result.ok:
        await process.terminate(pid, markers=_markers(layout), grace_s=START_TIMEOUT_S)
    process.remove_pid(pid_file)
    return _outcome(target, Action.STOPPED, started, f"pid {pid}")


async def _debian_log(port: int) -> str | None:
    """The log file of the online Debian cluster on `port`, if pg_lsclusters knows one."""
    if shutil.which("pg_lsclusters") is None:
        return None
    result = await process.run(["pg_lsclusters", "-h"])
    for cluster in parse_pg_lsclusters(result.output):
        if cluster.port == port and cluster.online and cluster.log_file:
            return cluster.log_file
    return None


async def status(settings: InfraSettings) -> ComponentStatus:
    """Up when the role of DATABASE_URL can connect; `pid` only for the cluster `up` owns."""
    target = parse_database_url(settings.database_url)
    layout = cluster_layout(settings)
    pid = _our_pid(settings, layout)
    reason = await try_connect(target, timeout_s=3.0)
    answers = reason is None or await process.port_open(target.host, target.port)
    if pid is not None:
        owner, log = "relais", str(settings.paths.log(NAME))
    elif answers:
        owner, log = "external", await _debian_log(target.port) or "(not ours)"
    else:
        owner, log = "-", str(settings.paths.log(NAME))
    return ComponentStatus(
        component=NAME,
        up=reason is None,
        address=target.address,
        owner=owner,
        log=log,
        pid=pid,
        detail="" if reason is None or not answers else reason,
    )
