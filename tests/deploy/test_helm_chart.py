"""The Helm chart, rendered by a real `helm template` and checked against the Kubernetes
JSON schemas (kubernetes-validate, strict: unknown fields are errors), in several
values variants, plus the invariants the schemas cannot express: non-root, probes,
resource limits, secrets only by reference, replicas bounded by partitions.

The chart's exposure (public URLs, cookies, Ingress, NetworkPolicies) is checked in
test_chart_exposure.py, its operations (alerts, dashboard, topics, KEDA, transport
security) in test_chart_operations.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from relais_contracts.topics import ALL_TOPICS
from tests.deploy.chart import (
    CHAT_URL,
    KUBERNETES_VERSION,
    MERCHANTS,
    REPO,
    SERVICES,
    Manifest,
    component,
    demo_merchants,
    of_kind,
    render,
    run_helm,
)

# Kinds that come from CRDs, not from Kubernetes itself: no schema in kubernetes-validate
# (test_chart_operations.py checks their shape).
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "KafkaTopic"}


def containers(deployment: Manifest) -> Iterator[Manifest]:
    yield from deployment["spec"]["template"]["spec"]["containers"]


VARIANTS = {
    "defaults": [],
    "ingress-and-service-monitor": [
        "--set",
        "ingress.enabled=true",
        "--set",
        "ingress.className=nginx",
        "--set",
        "serviceMonitor.enabled=true",
        "--set",
        "tracing.exporter=otlp",
        "--set",
        "tracing.otlpEndpoint=http://tempo.observability:4318",
        "--set",
        "envFromSecrets[0]=relais-merchant-secrets",
    ],
    "autoscaling-off": [
        "--set",
        "autoscaling.enabled=false",
        "--set",
        "services.tracker.replicas=3",
        "--set",
        "podDisruptionBudget.enabled=false",
    ],
    # Everything a platform team turns on: every public URL routed, alerts, dashboard,
    # KEDA, Kafka over SASL_SSL with a private CA and a client certificate, PostgreSQL
    # verify-full with a client certificate.
    "production": [
        "--set",
        "publicUrls.tracker=https://api.relais.example",
        "--set",
        "publicUrls.insights=https://insights.relais.example",
        "--set",
        "ingress.enabled=true",
        "--set",
        "ingress.className=nginx",
        "--set",
        "serviceMonitor.enabled=true",
        "--set",
        "prometheusRule.enabled=true",
        "--set",
        "grafanaDashboard.enabled=true",
        "--set",
        "keda.enabled=true",
        "--set",
        "kafka.bootstrap=kafka-0.kafka:9093\\,kafka-1.kafka:9093",
        "--set",
        "kafka.securityProtocol=SASL_SSL",
        "--set",
        "kafka.sasl.username=relais",
        "--set",
        "kafka.sasl.passwordSecret.secretName=relais-kafka-user",
        "--set",
        "kafka.sasl.passwordSecret.key=password",
        "--set",
        "kafka.tls.ca.secretName=kafka-cluster-ca-cert",
        "--set",
        "kafka.tls.clientCertificate.secretName=relais-kafka-user",
        "--set",
        "kafka.tls.clientCertificate.certKey=user.crt",
        "--set",
        "kafka.tls.clientCertificate.keyKey=user.key",
        "--set",
        "kafka.tls.keyPasswordSecret.secretName=relais-kafka-user",
        "--set",
        "kafka.tls.keyPasswordSecret.key=user.password",
        "--set",
        "postgresql.sslmode=verify-full",
        "--set",
        "postgresql.ca.configMapName=postgres-ca",
        "--set",
        "postgresql.clientCertificate.secretName=relais-postgres-client",
    ],
    # Strimzi owns the topics (KafkaTopic resources instead of the hook Job).
    "strimzi": ["--set", "topics.strimzi.enabled=true", "--set", "topics.replicationFactor=3"],
    # A local cluster: http URLs allowed, cookies not Secure, no NetworkPolicies.
    "development": [
        "--set",
        "development=true",
        "--set",
        "publicUrls.chat=http://localhost:8004",
        "--set",
        "publicUrls.notifier=http://localhost:8003",
        "--set",
        "networkPolicy.enabled=false",
        "--set",
        "topics.replicationFactor=1",
    ],
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest, helm: Path) -> tuple[str, list[Manifest]]:
    name: str = request.param
    return name, render(helm, *demo_merchants(), *VARIANTS[name])


def test_every_manifest_validates_against_the_kubernetes_schemas(
    variant: tuple[str, list[Manifest]],
) -> None:
    _, manifests = variant
    assert manifests
    for manifest in manifests:
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            pytest.fail(
                f"{manifest['kind']}/{manifest['metadata']['name']}: {path}: {error.message}"
            )


def test_the_validator_rejects_what_kubernetes_would(helm: Path) -> None:
    """The check above can fail: a misspelt field and a wrong type are both caught."""
    deployment = of_kind(render(helm, *demo_merchants()), "Deployment")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    del deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["periodSecond"]
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_one_deployment_and_service_per_relais_service_running_it(
    variant: tuple[str, list[Manifest]],
) -> None:
    _, manifests = variant
    deployments = {component(d): d for d in of_kind(manifests, "Deployment")}
    services = {component(s): s for s in of_kind(manifests, "Service")}
    assert sorted(deployments) == sorted(SERVICES)
    assert sorted(services) == sorted(SERVICES)
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for name, deployment in deployments.items():
        (container,) = containers(deployment)
        port = int(compose[name]["environment"]["RELAIS_HTTP_PORT"])
        env = {item["name"]: item for item in container["env"]}
        assert container["args"] == ["run", name]
        assert container["ports"][0]["containerPort"] == port
        assert env["RELAIS_HTTP_PORT"]["value"] == str(port)
        assert env["RELAIS_HTTP_HOST"]["value"] == "0.0.0.0"  # noqa: S104
        assert services[name]["spec"]["ports"][0]["port"] == port
        assert services[name]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_no_container_runs_as_root_or_with_privileges(
    variant: tuple[str, list[Manifest]],
) -> None:
    _, manifests = variant
    for deployment in of_kind(manifests, "Deployment") + of_kind(manifests, "Job"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in containers(deployment):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context.get("runAsUser", pod["securityContext"]["runAsUser"]) != 0
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["privileged"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"]["type"] == "RuntimeDefault"


def test_every_container_has_both_probes_and_resource_requests_and_limits(
    variant: tuple[str, list[Manifest]],
) -> None:
    _, manifests = variant
    for deployment in of_kind(manifests, "Deployment"):
        for container in containers(deployment):
            assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
            assert container["startupProbe"]["httpGet"]["path"] == "/health"
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}


def test_secrets_are_only_referenced(variant: tuple[str, list[Manifest]]) -> None:
    name, manifests = variant
    assert of_kind(manifests, "Secret") == []
    for deployment in of_kind(manifests, "Deployment"):
        (container,) = containers(deployment)
        env = {item["name"]: item for item in container["env"]}
        assert env["RELAIS_DATABASE_URL"] == {
            "name": "RELAIS_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "relais-database", "key": "url"}},
        }
        for item in container["env"]:
            if any(word in item["name"] for word in ("SECRET", "PEPPER", "PASSWORD", "TOKEN")):
                assert set(item) == {"name", "valueFrom"}, item["name"]
        needs = {
            "notifier": ("RELAIS_CUSTOMER_LINK_SECRETS", "RELAIS_OPT_OUT_PEPPER"),
            "chat": ("RELAIS_CUSTOMER_LINK_SECRETS",),
            "insights": ("RELAIS_SESSION_SECRETS",),
        }
        for needed in needs.get(component(deployment), ()):
            assert "secretKeyRef" in env[needed]["valueFrom"]
        if name == "ingress-and-service-monitor":
            assert container["envFrom"] == [{"secretRef": {"name": "relais-merchant-secrets"}}]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--set", "secretEnv.RELAIS_DATABASE_URL.value=postgresql://u:p@db/relais"], "value"),
        (
            ["--set", "services.notifier.env.RELAIS_CUSTOMER_LINK_SECRETS=plaintext"],
            "RELAIS_CUSTOMER_LINK_SECRETS",
        ),
        (
            ["--set", "services.notifier.env.RELAIS_OPT_OUT_PEPPER=plaintext"],
            "RELAIS_OPT_OUT_PEPPER",
        ),
        (["--set", "env.RELAIS_SMTP_PASSWORD=plaintext"], "RELAIS_SMTP_PASSWORD"),
    ],
)
def test_a_secret_value_in_the_values_is_refused(helm: Path, args: list[str], reason: str) -> None:
    result = run_helm(helm, *demo_merchants(), *args)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert reason in result.stderr


def test_merchant_configuration_is_a_config_map_mounted_read_only(
    variant: tuple[str, list[Manifest]],
) -> None:
    _, manifests = variant
    (config_map,) = [
        c for c in of_kind(manifests, "ConfigMap") if c["metadata"]["name"].endswith("-merchants")
    ]
    files = {path.name: path.read_text() for path in MERCHANTS.glob("*.yaml")}
    assert config_map["data"].keys() == files.keys()
    for file_name, content in files.items():
        assert yaml.safe_load(config_map["data"][file_name]) == yaml.safe_load(content)
    for deployment in of_kind(manifests, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {item["name"]: item.get("value") for item in container["env"]}
        mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert mounts["merchants"]["mountPath"] == env["RELAIS_MERCHANTS_DIR"]
        assert mounts["merchants"]["readOnly"] is True
        assert volumes["merchants"]["configMap"]["name"] == config_map["metadata"]["name"]


def test_a_changed_merchant_file_rolls_the_pods(helm: Path, tmp_path: Path) -> None:
    changed = tmp_path / "maison-lumiere.yaml"
    changed.write_text((MERCHANTS / "maison-lumiere.yaml").read_text() + "\n# edited\n")
    before = of_kind(render(helm, *demo_merchants()), "Deployment")[0]
    after = of_kind(
        render(
            helm,
            *demo_merchants(),
            "--set-file",
            f"merchants.files.maison-lumiere\\.yaml={changed}",
        ),
        "Deployment",
    )[0]
    key = "checksum/merchants"
    annotations = [d["spec"]["template"]["metadata"]["annotations"][key] for d in (before, after)]
    assert annotations[0] != annotations[1]


def test_an_existing_config_map_is_mounted_instead(helm: Path) -> None:
    manifests = render(helm, "--set", "merchants.existingConfigMap=acme-merchants")
    assert of_kind(manifests, "Deployment")
    assert of_kind(manifests, "ConfigMap") == []
    for deployment in of_kind(manifests, "Deployment"):
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["merchants"]["configMap"]["name"] == "acme-merchants"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "merchants: set merchants.files"),
        (["--set-string", "merchants.files.notes\\.txt=x"], "is not a merchant file name"),
        (
            ["--set", "services.chat.autoscaling.minReplicas=7"],
            "services.chat.autoscaling: minReplicas (7) exceeds maxReplicas (6)",
        ),
    ],
)
def test_bad_values_stop_the_render_with_a_reason(
    helm: Path, args: list[str], message: str
) -> None:
    extra = demo_merchants() if args else []
    result = run_helm(helm, *extra, *args)
    assert result.returncode != 0
    assert message in result.stderr


def consumed_partitions(service: str) -> int:
    """The most partitions among the topics a service consumes, from the topic registry."""
    return max(t.partitions for t in ALL_TOPICS if service in {c.value for c in t.consumers})


def test_autoscalers_stop_at_the_partitions_of_the_topics_consumed(helm: Path) -> None:
    manifests = render(helm, *demo_merchants())
    autoscalers = {component(h): h for h in of_kind(manifests, "HorizontalPodAutoscaler")}
    deployments = {component(d): d for d in of_kind(manifests, "Deployment")}
    assert sorted(autoscalers) == sorted(SERVICES)
    for name, autoscaler in autoscalers.items():
        spec = autoscaler["spec"]
        assert spec["maxReplicas"] == consumed_partitions(name)
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
        assert spec["scaleTargetRef"]["name"] == deployments[name]["metadata"]["name"]
        # The autoscaler owns the replica count.
        assert "replicas" not in deployments[name]["spec"]


def test_without_autoscaling_the_deployments_carry_their_replicas(helm: Path) -> None:
    manifests = render(helm, *demo_merchants(), *VARIANTS["autoscaling-off"])
    assert of_kind(manifests, "HorizontalPodAutoscaler") == []
    assert of_kind(manifests, "PodDisruptionBudget") == []
    replicas = {component(d): d["spec"]["replicas"] for d in of_kind(manifests, "Deployment")}
    assert replicas == {
        "tracker": 3,
        "detector": 1,
        "notifier": 1,
        "chat": 1,
        "actions": 1,
        "insights": 1,
    }


def test_disruption_budgets_select_their_pods(helm: Path) -> None:
    manifests = render(helm, *demo_merchants())
    deployments = {component(d): d for d in of_kind(manifests, "Deployment")}
    budgets = of_kind(manifests, "PodDisruptionBudget")
    assert sorted(component(b) for b in budgets) == sorted(SERVICES)
    for budget in budgets:
        deployment = deployments[component(budget)]
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
        assert budget["spec"]["maxUnavailable"] == 1


def test_the_monitor_scrapes_every_service(helm: Path) -> None:
    manifests = render(helm, *demo_merchants(), *VARIANTS["ingress-and-service-monitor"])
    services = {s["metadata"]["name"]: s for s in of_kind(manifests, "Service")}
    (monitor,) = of_kind(manifests, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    selector = monitor["spec"]["selector"]["matchLabels"]
    for service in services.values():
        assert selector.items() <= service["metadata"]["labels"].items()
        assert service["spec"]["ports"][0]["name"] == monitor["spec"]["endpoints"][0]["port"]

    deployment = of_kind(manifests, "Deployment")[0]
    env = {
        item["name"]: item.get("value")
        for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["OTEL_TRACES_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://tempo.observability:4318"
    assert env["RELAIS_PUBLIC_CHAT_BASE_URL"] == CHAT_URL
