"""Rendering and command-line rules of the local Kafka broker."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from relais_cli.infra import kafka
from relais_cli.infra.base import InfraError
from relais_cli.infra.paths import kafka_deploy_dir


def _render(log_dir: Path = Path("/state/kafka/data")) -> dict[str, str]:
    template = (kafka_deploy_dir() / "server.properties.template").read_text()
    text = kafka.render_server_properties(
        template, host="127.0.0.1", broker_port=9092, controller_port=9093, log_dir=log_dir
    )
    return kafka.parse_properties(text)


def test_rendered_properties_describe_a_single_node_kraft_cluster() -> None:
    props = _render()
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == "/state/kafka/data"


def test_rendered_properties_suit_one_broker_and_explicit_topics() -> None:
    props = _render()
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "3"


def test_every_placeholder_of_the_template_is_filled() -> None:
    template = (kafka_deploy_dir() / "server.properties.template").read_text()
    text = kafka.render_server_properties(
        template, host="127.0.0.1", broker_port=1, controller_port=2, log_dir=Path("/d")
    )
    assert "${" not in text


def test_unknown_placeholder_is_an_infra_error() -> None:
    with pytest.raises(InfraError, match="placeholder"):
        kafka.render_server_properties(
            "x=${nope}", host="h", broker_port=1, controller_port=2, log_dir=Path("/d")
        )


def test_log_dir_with_a_comma_is_refused() -> None:
    with pytest.raises(InfraError, match="comma"):
        _render(Path("/a,b"))


def test_cluster_id_is_a_uuid_in_22_url_safe_characters() -> None:
    raw = bytes(range(16))
    cluster_id = kafka.new_cluster_id(raw)
    assert len(cluster_id) == 22
    assert base64.urlsafe_b64decode(cluster_id + "==") == raw
    assert kafka.new_cluster_id() != kafka.new_cluster_id()


def test_java_command_uses_the_libs_wildcard_and_our_log4j_config() -> None:
    argv = kafka.java_command(
        java="java",
        libs=Path("/cache/libs"),
        log4j_config=Path("/repo/deploy/kafka/log4j2.yaml"),
        main_class=kafka.MAIN_CLASS,
        args=("/state/server.properties",),
    )
    assert argv[0] == "java"
    assert "-Xmx768m" in argv
    assert "-Dlog4j2.configurationFile=/repo/deploy/kafka/log4j2.yaml" in argv
    assert argv[argv.index("-cp") + 1] == "/cache/libs/*"
    assert argv[-2:] == ["kafka.Kafka", "/state/server.properties"]


def test_libs_are_complete_only_with_a_marker_for_this_pom(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    libs = tmp_path / "libs"
    libs.mkdir()
    assert not kafka.libs_complete(libs, pom=pom)
    (libs / kafka.MARKER_NAME).write_text("stale digest\n")
    assert not kafka.libs_complete(libs, pom=pom)
    (libs / kafka.MARKER_NAME).write_text(kafka._pom_digest(pom) + "\n")
    assert kafka.libs_complete(libs, pom=pom)
    pom.write_text("<project><!-- changed --></project>")
    assert not kafka.libs_complete(libs, pom=pom)


def test_pom_pins_the_kafka_version_the_cli_caches() -> None:
    pom = (kafka_deploy_dir() / "pom.xml").read_text()
    assert f"<kafka.version>{kafka.KAFKA_VERSION}</kafka.version>" in pom
