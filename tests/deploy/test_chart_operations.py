"""What the chart gives the people who run Relais: alerts on metrics the runtime really
exports, a Grafana dashboard, topic creation (a hook Job, or Strimzi KafkaTopics that
match the topic registry), KEDA scaling on consumer lag, and Kafka and PostgreSQL
transport security wired to the settings the services read."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg.connect_utils
import pytest
import yaml

from relais_contracts.registry import event_type_of
from relais_contracts.topics import ALL_TOPICS
from relais_contracts.topics.notifications import NotificationFailed
from relais_runtime.settings import KafkaSettings
from tests.deploy.chart import (
    CHART,
    METRICS_MODULE,
    REPO,
    SERVICES,
    Manifest,
    component,
    demo_merchants,
    env_of,
    exported_metrics,
    named,
    of_kind,
    pod_spec,
    refused,
    render,
)

MONITORING = [
    *("--set", "serviceMonitor.enabled=true"),
    *("--set", "prometheusRule.enabled=true"),
    *("--set", "grafanaDashboard.enabled=true"),
]
DOCS_BASE = "https://github.com/relais/relais/blob/main/docs"
# Labels Prometheus adds to every scraped series (Prometheus Operator targets).
TARGET_LABELS = {"namespace", "pod", "service", "job", "instance", "container", "endpoint"}
SASL_SSL = [
    *("--set", "kafka.securityProtocol=SASL_SSL"),
    *("--set", "kafka.sasl.username=relais"),
    *("--set", "kafka.sasl.passwordSecret.secretName=relais-kafka-user"),
    *("--set", "kafka.sasl.passwordSecret.key=password"),
    *("--set", "kafka.tls.ca.secretName=kafka-cluster-ca-cert"),
    *("--set", "kafka.tls.clientCertificate.secretName=relais-kafka-user"),
    *("--set", "postgresql.sslmode=verify-full"),
    *("--set", "postgresql.ca.configMapName=postgres-ca"),
]


def metric_labels() -> dict[str, set[str]]:
    """Each metric of metrics.py (its declared name) with its label names."""
    labels: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(METRICS_MODULE.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        if node.func.id not in {"Counter", "Gauge", "Histogram", "Summary"}:
            continue
        name = node.args[0]
        names = node.args[2] if len(node.args) > 2 else None
        if isinstance(name, ast.Constant) and isinstance(names, ast.List):
            labels[str(name.value).removesuffix("_total")] = {
                str(e.value) for e in names.elts if isinstance(e, ast.Constant)
            }
        elif isinstance(name, ast.Constant):
            labels[str(name.value).removesuffix("_total")] = set()
    return labels


def series_in(expression: str) -> set[str]:
    """The metric names a PromQL expression selects (every relais_* identifier)."""
    return set(re.findall(r"\brelais_[a-z0-9_]+\b", expression))


def base_metric(series: str) -> str:
    for suffix in ("_total", "_bucket", "_sum", "_count"):
        if series.endswith(suffix):
            return series.removesuffix(suffix)
    return series


def alerts(manifests: list[Manifest]) -> dict[str, Manifest]:
    (rule,) = of_kind(manifests, "PrometheusRule")
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    anchors = set()
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            anchors.add(title.replace(" ", "-"))
    return anchors


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- alerts --------------------------------------------------------------------------

REQUIRED_ALERTS = {
    "RelaisConsumerLagHigh": "relais_consumer_lag",
    "RelaisDeadLettersGrowing": "relais_dead_letters_total",
    "RelaisLoopRestarting": "relais_loop_restarts_total",
    "RelaisLoopDown": "relais_loop_up",
    "RelaisOutboxBacklog": "relais_outbox_backlog",
    "RelaisNotificationSendFailures": "relais_notification_outcomes_total",
    "RelaisReviewWaitingTooLong": "relais_review_over_limit",
}


def test_the_alerts_cover_lag_dead_letters_loops_outbox_and_send_failures(helm: Path) -> None:
    rules = alerts(render(helm, *demo_merchants(), *MONITORING))
    for alert, metric in REQUIRED_ALERTS.items():
        assert metric in series_in(rules[alert]["expr"]), alert
    assert rules["RelaisLoopDown"]["expr"].endswith("== 0")
    # The notifier labels a message given up with its event type, minus "Notification".
    failed = event_type_of(NotificationFailed).removeprefix("Notification").lower()
    assert f'outcome="{failed}"' in rules["RelaisNotificationSendFailures"]["expr"]
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert 'namespace="relais"' in rule["expr"], rule["alert"]


def test_every_alert_names_a_metric_the_runtime_exports_with_its_labels(helm: Path) -> None:
    exported = exported_metrics()
    labels = metric_labels()
    assert {"relais_consumer_lag", "relais_dead_letters_total"} <= exported
    for name, rule in alerts(render(helm, *demo_merchants(), *MONITORING)).items():
        expression = rule["expr"]
        selected = series_in(expression)
        assert selected, f"{name}: no relais metric in {expression}"
        assert selected <= exported, f"{name}: {selected - exported} not in metrics.py"
        known = set(TARGET_LABELS)
        for series in selected:
            known |= labels[base_metric(series)]
        for grouping in re.findall(r"\bby \(([^)]*)\)", expression):
            used = {label.strip() for label in grouping.split(",")}
            assert used <= known, f"{name}: no label {used - known} on {selected}"
        for label in re.findall(r"[{,]\s*([a-z_]+)=~?\"", expression):
            assert label in known, f"{name}: no label {label} on {selected}"


def test_the_checker_catches_a_metric_that_does_not_exist() -> None:
    assert "relais_dead_letter_total" not in exported_metrics()
    assert "relais_handler_seconds_bucket" in exported_metrics()
    assert "relais_handler_seconds" not in exported_metrics()


def test_every_alert_links_to_a_runbook_that_exists(helm: Path) -> None:
    rules = alerts(render(helm, *demo_merchants(), *MONITORING))
    runbooks = {path.name for path in (REPO / "docs" / "runbooks").glob("*.md")}
    assert rules["RelaisDeadLettersGrowing"]["annotations"]["runbook_url"] == (
        f"{DOCS_BASE}/runbooks/dead-letters.md"
    )
    assert "dead-letters.md" in runbooks
    for name, rule in rules.items():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(DOCS_BASE + "/"), name
        path, _, anchor = url.removeprefix(DOCS_BASE + "/").partition("#")
        document = REPO / "docs" / path
        assert document.is_file(), f"{name}: {document} does not exist"
        if anchor:
            assert anchor in heading_anchors(document.read_text(encoding="utf-8")), (name, anchor)


def test_alert_rules_have_the_prometheus_rule_shape(helm: Path) -> None:
    (rule,) = of_kind(render(helm, *demo_merchants(), *MONITORING), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) == {"name", "rules"}
        for alert in group["rules"]:
            assert set(alert) <= {"alert", "expr", "for", "labels", "annotations"}
            assert re.fullmatch(r"[0-9]+[smh]", alert.get("for", "1m"))
            for value in (*alert["labels"].values(), *alert["annotations"].values()):
                assert isinstance(value, str)
            assert alert["expr"].count("(") == alert["expr"].count(")")
            assert alert["expr"].count("{") == alert["expr"].count("}")


# --- dashboard -----------------------------------------------------------------------


def dashboard(manifests: list[Manifest]) -> tuple[Manifest, dict[str, Any]]:
    config_map = named(manifests, "ConfigMap")["rel-relais-dashboard"]
    board: dict[str, Any] = json.loads(config_map["data"]["relais.json"])
    return config_map, board


def test_the_dashboard_is_a_config_map_for_the_grafana_sidecar(helm: Path) -> None:
    config_map, board = dashboard(render(helm, *demo_merchants(), *MONITORING))
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"]["grafana_folder"] == "Relais"
    assert board == json.loads((CHART / "dashboards" / "relais.json").read_text())
    assert board["uid"]
    assert board["title"]
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "namespace"} <= variables


def test_the_dashboard_charts_exported_metrics_including_every_alerted_one(helm: Path) -> None:
    _, board = dashboard(render(helm, *demo_merchants(), *MONITORING))
    exported = exported_metrics()
    charted: set[str] = set()
    panel_ids = []
    for panel in board["panels"]:
        panel_ids.append(panel["id"])
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        for target in panel.get("targets", []):
            selected = series_in(target["expr"])
            assert selected, panel["title"]
            assert selected <= exported, f"{panel['title']}: {selected - exported}"
            assert 'namespace="$namespace"' in target["expr"]
            charted |= selected
    assert len(panel_ids) == len(set(panel_ids))
    assert set(REQUIRED_ALERTS.values()) <= charted


def test_monitoring_objects_are_off_by_default(helm: Path) -> None:
    manifests = render(helm, *demo_merchants())
    assert of_kind(manifests, "PrometheusRule") == []
    assert of_kind(manifests, "ServiceMonitor") == []
    assert "rel-relais-dashboard" not in named(manifests, "ConfigMap")


# --- topics --------------------------------------------------------------------------


def transport_env(container: Manifest) -> dict[str, Manifest]:
    return {
        name: item
        for name, item in env_of(container).items()
        if name.startswith(("RELAIS_KAFKA_", "PGSSL"))
    }


def test_a_hook_job_applies_the_topic_registry_before_install_and_upgrade(helm: Path) -> None:
    manifests = render(helm, *demo_merchants(), *SASL_SSL, "--set", "topics.replicationFactor=3")
    (job,) = of_kind(manifests, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = pod_spec(job)
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["args"] == ["topics", "apply", "--replication-factor", "3"]
    deployment = of_kind(manifests, "Deployment")[0]
    (service,) = pod_spec(deployment)["containers"]
    assert container["image"] == service["image"]
    # The Job reaches Kafka exactly as the services do (TLS, SASL).
    assert transport_env(container) == transport_env(service)
    assert transport_env(container)["RELAIS_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"] == {v["name"]: v for v in pod_spec(deployment)["volumes"]}["tls"]
    assert {"requests", "limits"} <= container["resources"].keys()


def test_the_topic_cli_the_job_runs_exists() -> None:
    source = (REPO / "cli" / "src" / "relais_cli" / "topics_cmd.py").read_text()
    assert '@app.command("apply")' in source
    assert '"--replication-factor"' in source
    assert "kafka_security_from_env()" in source


def test_the_chart_topic_file_matches_the_registry() -> None:
    script = load_script(REPO / "deploy" / "scripts" / "chart_topics.py")
    topics_file = CHART / "files" / "topics.yaml"
    assert topics_file.read_text(encoding="utf-8") == script.render(), (
        "stale: run `uv run python deploy/scripts/chart_topics.py`"
    )
    listed = yaml.safe_load(topics_file.read_text(encoding="utf-8"))["topics"]
    assert listed == [
        {"name": t.name, "partitions": t.partitions, "config": t.kafka_config()} for t in ALL_TOPICS
    ]


def test_strimzi_kafka_topics_replace_the_job(helm: Path) -> None:
    manifests = render(
        helm,
        *demo_merchants(),
        *("--set", "topics.strimzi.enabled=true", "--set", "topics.strimzi.cluster=events"),
        *("--set", "topics.replicationFactor=3", "--set", "topics.strimzi.namespace=kafka"),
    )
    assert of_kind(manifests, "Job") == []
    assert "rel-relais-topics" not in named(manifests, "NetworkPolicy")
    topics = of_kind(manifests, "KafkaTopic")
    assert [t["spec"]["topicName"] for t in topics] == [t.name for t in ALL_TOPICS]
    for resource, topic in zip(topics, ALL_TOPICS, strict=True):
        assert resource["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert resource["metadata"]["name"] == topic.name
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", topic.name)
        assert resource["metadata"]["namespace"] == "kafka"
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == "events"
        assert resource["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert set(resource["spec"]) == {"topicName", "partitions", "replicas", "config"}
        assert resource["spec"]["partitions"] == topic.partitions
        assert resource["spec"]["replicas"] == 3
        assert resource["spec"]["config"] == topic.kafka_config()


# --- KEDA ----------------------------------------------------------------------------


def test_keda_scales_each_service_on_the_lag_of_its_consumer_groups(helm: Path) -> None:
    manifests = render(
        helm, *demo_merchants(), "--set", "keda.enabled=true", "--set", "env.CUSTOM=1"
    )
    assert of_kind(manifests, "HorizontalPodAutoscaler") == []
    scaled = {component(s): s for s in of_kind(manifests, "ScaledObject")}
    deployments = {component(d): d for d in of_kind(manifests, "Deployment")}
    assert sorted(scaled) == sorted(SERVICES)
    exported = exported_metrics()
    for name, scaled_object in scaled.items():
        spec = scaled_object["spec"]
        assert scaled_object["apiVersion"] == "keda.sh/v1alpha1"
        assert set(spec) <= {
            "scaleTargetRef",
            "minReplicaCount",
            "maxReplicaCount",
            "pollingInterval",
            "cooldownPeriod",
            "advanced",
            "triggers",
        }
        assert spec["scaleTargetRef"]["name"] == deployments[name]["metadata"]["name"]
        assert "replicas" not in deployments[name]["spec"]
        partitions = max(t.partitions for t in ALL_TOPICS if name in {c.value for c in t.consumers})
        assert spec["maxReplicaCount"] == partitions
        lag, cpu = spec["triggers"]
        assert lag["type"] == "prometheus"
        assert cpu == {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
        for trigger in spec["triggers"]:
            assert all(isinstance(v, str) for v in trigger["metadata"].values())
        query = lag["metadata"]["query"]
        assert series_in(query) == {"relais_consumer_lag"} <= exported
        group = re.search(r'group=~"([^"]+)"', query)
        assert group is not None
        pattern = group[1].encode().decode("unicode_escape")  # PromQL string escapes
        assert re.fullmatch(pattern, f"{name}.orders")
        other = next(s for s in SERVICES if s != name)
        assert not re.fullmatch(pattern, f"{other}.orders")
        assert not re.fullmatch(pattern, f"{name}x.orders")


def test_keda_follows_the_consumer_group_prefix(helm: Path) -> None:
    manifests = render(
        helm,
        *demo_merchants(),
        *("--set", "keda.enabled=true", "--set", "env.RELAIS_CONSUMER_GROUP_PREFIX=eu.west-"),
    )
    (tracker,) = [s for s in of_kind(manifests, "ScaledObject") if component(s) == "tracker"]
    group = re.search(r'group=~"([^"]+)"', tracker["spec"]["triggers"][0]["metadata"]["query"])
    assert group is not None
    pattern = group[1].encode().decode("unicode_escape")
    assert re.fullmatch(pattern, "eu.west-tracker.orders")
    assert not re.fullmatch(pattern, "euXwest-tracker.orders")


# --- transport security --------------------------------------------------------------


def test_kafka_and_postgresql_tls_are_wired_to_the_settings(helm: Path) -> None:
    manifests = render(helm, *demo_merchants(), *SASL_SSL)
    kafka_fields = {f"RELAIS_{field.upper()}" for field in KafkaSettings.model_fields}
    libpq = inspect.getsource(asyncpg.connect_utils)
    for deployment in of_kind(manifests, "Deployment"):
        pod = pod_spec(deployment)
        (container,) = pod["containers"]
        env = transport_env(container)
        values = {name: item.get("value") for name, item in env.items()}
        assert values["RELAIS_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert values["RELAIS_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert values["RELAIS_KAFKA_SASL_USERNAME"] == "relais"
        assert env["RELAIS_KAFKA_SASL_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": "relais-kafka-user", "key": "password"}
        }
        assert values["PGSSLMODE"] == "verify-full"
        for name in env:
            if name.startswith("RELAIS_KAFKA_"):
                assert name in kafka_fields, f"{name} is no KafkaSettings field"
            else:
                assert f"'{name}'" in libpq, f"asyncpg does not read {name}"
        # Every certificate path names a file of the mounted `tls` volume.
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["tls"]["readOnly"] is True
        (tls,) = [v for v in pod["volumes"] if v["name"] == "tls"]
        files = {
            item["path"]
            for source in tls["projected"]["sources"]
            for kind in ("secret", "configMap")
            for item in source.get(kind, {}).get("items", [])
        }
        paths = {n: v for n, v in values.items() if n.endswith("_FILE") or n in {"PGSSLROOTCERT"}}
        assert set(paths) == {
            "RELAIS_KAFKA_SSL_CA_FILE",
            "RELAIS_KAFKA_SSL_CERT_FILE",
            "RELAIS_KAFKA_SSL_KEY_FILE",
            "PGSSLROOTCERT",
        }
        for path in paths.values():
            assert path is not None
            assert path.startswith(mounts["tls"]["mountPath"] + "/")
            assert path.removeprefix(mounts["tls"]["mountPath"] + "/") in files


def test_plaintext_kafka_needs_no_tls_volume(helm: Path) -> None:
    manifests = render(helm, *demo_merchants())
    for deployment in of_kind(manifests, "Deployment"):
        (container,) = pod_spec(deployment)["containers"]
        assert transport_env(container).keys() == {
            "RELAIS_KAFKA_BOOTSTRAP",
            "RELAIS_KAFKA_SECURITY_PROTOCOL",
        }
        assert "tls" not in {v["name"] for v in pod_spec(deployment)["volumes"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "kafka.securityProtocol=SASL_SSL", "--set", "kafka.sasl.username=relais"],
            "kafka.sasl: securityProtocol SASL_SSL needs kafka.sasl.passwordSecret",
        ),
        (
            ["--set", "kafka.securityProtocol=SASL_SSL"],
            "kafka.sasl: securityProtocol SASL_SSL needs kafka.sasl.username",
        ),
        (
            ["--set", "kafka.tls.ca.secretName=kafka-ca"],
            "a CA or client certificate is set but kafka.securityProtocol is PLAINTEXT",
        ),
        (["--set", "kafka.securityProtocol=TLS"], "at '/kafka/securityProtocol'"),
        (["--set", "postgresql.sslmode=verify"], "at '/postgresql/sslmode'"),
        (
            ["--set", "kafka.tls.ca.secretName=a", "--set", "kafka.tls.ca.configMapName=b"],
            "at '/kafka/tls/ca'",
        ),
    ],
)
def test_incoherent_transport_values_stop_the_render(
    helm: Path, args: list[str], message: str
) -> None:
    assert message in refused(helm, *demo_merchants(), *args)
