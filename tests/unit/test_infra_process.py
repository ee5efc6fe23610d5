"""Pid files, liveness, logs, settings and component selection of `relais infra`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from relais_cli.infra import process, stack
from relais_cli.infra.base import InfraError
from relais_cli.infra.settings import InfraSettings


def test_pid_file_round_trip_and_first_line_only(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids" / "x.pid"
    assert process.read_pid(pid_file) is None
    process.write_pid(pid_file, 1234)
    assert process.read_pid(pid_file) == 1234
    pid_file.write_text("4321\n/var/lib/postgresql/data\n1700000000\n")
    assert process.read_pid(pid_file) == 4321
    pid_file.write_text("not a pid\n")
    assert process.read_pid(pid_file) is None


def test_a_process_matches_only_when_its_command_line_has_every_marker() -> None:
    me = os.getpid()
    assert process.is_running(me)
    assert process.is_running(me, markers=(Path(sys.executable).name[:6],))
    assert not process.is_running(me, markers=("definitely-not-in-this-command-line",))


def test_owned_pid_ignores_a_stale_pid_file(tmp_path: Path) -> None:
    pid_file = tmp_path / "stale.pid"
    process.write_pid(pid_file, 2**22 + 12345)  # above the default pid_max
    assert process.owned_pid(pid_file, markers=()) is None


def test_rotate_log_keeps_one_previous_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "kafka.log"
    process.rotate_log(log)
    log.write_text("first run\n")
    process.rotate_log(log)
    assert not log.exists()
    assert (tmp_path / "logs" / "kafka.log.1").read_text() == "first run\n"


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    assert process.tail(log, lines=2) == ["line 98", "line 99"]
    assert process.tail(tmp_path / "missing.log", lines=5) == []


def test_select_components_keeps_stack_order_and_refuses_unknown_names() -> None:
    assert stack.select(None) == ("kafka", "postgres", "smtp")
    assert stack.select("smtp, Kafka") == ("kafka", "smtp")
    with pytest.raises(InfraError, match="redis"):
        stack.select("kafka,redis")


def test_settings_read_the_environment_once_with_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("RELAIS_DATABASE_URL", "RELAIS_KAFKA_BOOTSTRAP", "RELAIS_KAFKA_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:6000/d")
    settings = InfraSettings()
    assert settings.paths.log("kafka") == tmp_path / "state" / "logs" / "kafka.log"
    assert settings.cache_dir == tmp_path / "cache" / "relais"
    assert settings.database_url.endswith(":6000/d")
    assert settings.kafka_bootstrap == "127.0.0.1:9092"


def test_relais_database_url_wins_and_kafka_port_moves_the_bootstrap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://a@h/x")
    monkeypatch.setenv("RELAIS_DATABASE_URL", "postgresql://b@h/y")
    monkeypatch.setenv("RELAIS_KAFKA_PORT", "19092")
    monkeypatch.delenv("RELAIS_KAFKA_BOOTSTRAP", raising=False)
    settings = InfraSettings()
    assert settings.database_url == "postgresql://b@h/y"
    assert settings.kafka_bootstrap == "127.0.0.1:19092"


def test_state_dir_with_a_tilde_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_STATE_DIR", "~/somewhere")
    assert InfraSettings().state_dir == Path.home() / "somewhere"


def test_failure_summary_puts_error_lines_first_and_drops_stack_frames(tmp_path: Path) -> None:
    log = tmp_path / "kafka.log"
    log.write_text(
        "[t] INFO starting\n"
        "[t] ERROR Unable to start acceptor (kafka.network.DataPlaneAcceptor)\n"
        "org.apache.kafka.common.KafkaException: Socket server failed to bind\n"
        "\tat kafka.network.Acceptor.start(SocketServer.scala:530)\n"
        "Caused by: java.net.BindException: Address already in use\n"
        "\t... 6 more\n"
        "[t] INFO shutting down\n"
    )
    message = process.describe_failure("Kafka exited", log_file=log)
    lines = message.splitlines()
    assert lines[0] == f"Kafka exited (log: {log})"
    assert lines[1] == "  | [t] ERROR Unable to start acceptor (kafka.network.DataPlaneAcceptor)"
    assert "  | Caused by: java.net.BindException: Address already in use" in lines
    assert not any("SocketServer.scala" in line for line in lines)
    assert lines[-1] == "  | [t] INFO shutting down"
