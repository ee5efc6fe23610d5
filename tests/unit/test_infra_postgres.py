"""DATABASE_URL parsing, quoting and provisioning rules of the local PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from relais_cli.infra import postgres
from relais_cli.infra.base import InfraError


def test_database_url_is_parsed_with_its_parts() -> None:
    target = postgres.parse_database_url("postgresql://relais:relais@127.0.0.1:5432/relais")
    assert target == postgres.DatabaseTarget(
        host="127.0.0.1", port=5432, user="relais", password="relais", database="relais"
    )
    assert target.address == "127.0.0.1:5432"


def test_database_url_accepts_a_driver_suffix_and_percent_encoding() -> None:
    target = postgres.parse_database_url("postgresql+asyncpg://a%40b:p%2Fw@localhost:6543/d%20b")
    assert (target.user, target.password, target.database) == ("a@b", "p/w", "d b")
    assert (target.host, target.port) == ("localhost", 6543)


def test_database_url_defaults_follow_libpq() -> None:
    target = postgres.parse_database_url("postgres://relais@/")
    assert (target.host, target.port, target.database) == ("127.0.0.1", 5432, "relais")


def test_other_schemes_are_refused() -> None:
    with pytest.raises(InfraError):
        postgres.parse_database_url("mysql://x@y/z")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("10.0.0.5", False),
        ("db.example.com", False),
    ],
)
def test_only_loopback_hosts_may_be_started_locally(host: str, loopback: bool) -> None:
    assert postgres.is_loopback(host) is loopback


def test_psql_literal_escapes_quotes_and_backslashes() -> None:
    assert postgres.psql_literal("relais") == "'relais'"
    assert postgres.psql_literal("it's") == "'it''s'"
    assert postgres.psql_literal("a\\b") == "'a\\\\b'"


def test_provision_script_creates_role_and_database_only_when_missing() -> None:
    target = postgres.parse_database_url("postgresql://relais:s3cr'et@127.0.0.1:5432/relais")
    script = postgres.provision_script(target, reset_password=False)
    assert script.startswith("\\set ON_ERROR_STOP on\n")
    assert "\\set relais_password 's3cr''et'" in script
    assert "CREATE ROLE %I LOGIN CREATEDB PASSWORD %L" in script
    assert "WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'relais_role')" in script
    assert "CREATE DATABASE %I OWNER %I" in script
    assert "ALTER ROLE" not in script
    assert script.count("\\gexec") == 2


def test_provision_script_resets_the_password_only_when_asked() -> None:
    target = postgres.parse_database_url("postgresql://relais:relais@127.0.0.1/relais")
    script = postgres.provision_script(target, reset_password=True)
    assert "ALTER ROLE %I LOGIN CREATEDB PASSWORD %L" in script
    assert script.count("\\gexec") == 3


def test_cluster_conf_listens_on_the_url_host_and_port_only() -> None:
    conf = postgres.render_cluster_conf(
        listen="127.0.0.1", port=5433, socket_dir=Path("/var/lib/postgresql/relais-x/run")
    )
    assert "listen_addresses = '127.0.0.1'\n" in conf
    assert "port = 5433\n" in conf
    assert "unix_socket_directories = '/var/lib/postgresql/relais-x/run'\n" in conf


def test_pg_lsclusters_lines_are_parsed() -> None:
    text = (
        "15 main 5432 online postgres /var/lib/postgresql/15/main "
        "/var/log/postgresql/postgresql-15-main.log\n"
        "16 other 5433 down postgres /var/lib/postgresql/16/other\n"
        "garbage\n"
    )
    first, second = postgres.parse_pg_lsclusters(text)
    assert (first.version, first.name, first.port, first.online) == ("15", "main", 5432, True)
    assert first.log_file == "/var/log/postgresql/postgresql-15-main.log"
    assert (second.port, second.online, second.log_file) == (5433, False, "")
