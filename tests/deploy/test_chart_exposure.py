"""What the chart exposes, and to whom: the public URLs customers are sent to (required,
https outside development), Secure cookies, an Ingress that routes each service's public
paths and never an operational endpoint, NetworkPolicies that deny the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relais_actions.settings import ActionsSettings
from relais_chat.settings import ChatSettings
from relais_detector.settings import DetectorSettings
from relais_insights.settings import InsightsSettings
from relais_notifier.settings import NotifierSettings
from relais_runtime.settings import RuntimeSettings
from relais_tracker.settings import TrackerSettings
from tests.deploy.chart import (
    CHART,
    CHAT_URL,
    REPO,
    SERVICES,
    Manifest,
    component,
    demo_merchants,
    env_of,
    named,
    of_kind,
    pod_spec,
    refused,
    render,
)

SETTINGS: dict[str, type[RuntimeSettings]] = {
    "tracker": TrackerSettings,
    "detector": DetectorSettings,
    "notifier": NotifierSettings,
    "chat": ChatSettings,
    "actions": ActionsSettings,
    "insights": InsightsSettings,
}
OPERATIONAL = ("/metrics", "/docs", "/redoc", "/openapi.json", "/ready", "/health")
ALL_PUBLIC = [
    "--set",
    "publicUrls.tracker=https://api.relais.example",
    "--set",
    "publicUrls.insights=https://insights.relais.example/",
    "--set",
    "ingress.enabled=true",
]
RELEASE_LABELS = {"app.kubernetes.io/name": "relais", "app.kubernetes.io/instance": "rel"}
# Routes of a service's handlers that are deliberately not public.
INTERNAL_ROUTES: dict[str, set[str]] = {
    "notifier": {"/internal/preview", "/internal/sent/{merchant_id}/{notification_id}"}
}


def deployments(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {component(d): d for d in of_kind(manifests, "Deployment")}


def service_env(manifests: list[Manifest], service: str) -> dict[str, Manifest]:
    (container,) = pod_spec(deployments(manifests)[service])["containers"]
    return env_of(container)


def prefix_matches(prefix: str, path: str) -> bool:
    """Whether an Ingress path of type Prefix routes `path` (element-wise, as Kubernetes)."""
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or prefix == ""


def handler_routes(service: str) -> set[str]:
    """The paths a service's own routers declare, read from its handlers module(s)."""
    package = REPO / "services" / service / "src" / f"relais_{service}"
    sources = [package / "handlers.py", *sorted((package / "handlers").glob("*.py"))]
    routes: set[str] = set()
    for source in sources:
        if not source.exists():
            continue
        text = source.read_text(encoding="utf-8")
        prefix_match = re.search(r'prefix="([^"]*)"', text)
        prefix = prefix_match[1] if prefix_match else ""
        for path in re.findall(r'add_api_route\(\s*"([^"]*)"', text):
            routes.add(prefix + path)
    return routes


def ingress_routes(manifests: list[Manifest]) -> dict[str, dict[str, set[str]]]:
    """host -> service -> paths."""
    (ingress,) = of_kind(manifests, "Ingress")
    routed: dict[str, dict[str, set[str]]] = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["pathType"] == "Prefix"
            backend = path["backend"]["service"]["name"].removeprefix("rel-relais-")
            routed.setdefault(rule["host"], {}).setdefault(backend, set()).add(path["path"])
    return routed


# --- public URLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ([], "'chat', 'notifier'"),
        (["--set", f"publicUrls.chat={CHAT_URL}"], "'notifier'"),
        (["--set", f"publicUrls.notifier={CHAT_URL}"], "'chat'"),
    ],
)
def test_rendering_fails_without_the_public_urls(
    helm: Path, given: list[str], missing: str
) -> None:
    error = refused(helm, *demo_merchants(), *given, public_urls=False)
    assert "values don't meet the specifications of the schema" in error
    assert "at '/publicUrls': missing propert" in error
    assert missing in error


def test_no_default_points_at_the_loopback(helm: Path) -> None:
    values = (CHART / "values.yaml").read_text(encoding="utf-8")
    assert "127.0.0.1" not in values
    assert "localhost" not in values
    manifests = render(helm, *demo_merchants())
    for service in SERVICES:
        for item in service_env(manifests, service).values():
            assert "127.0.0.1" not in str(item.get("value", "")), item


@pytest.mark.parametrize("name", ["chat", "notifier", "tracker", "insights"])
def test_an_http_public_url_is_refused_outside_development(helm: Path, name: str) -> None:
    error = refused(helm, *demo_merchants(), "--set", f"publicUrls.{name}=http://relais.example")
    assert f"at '/publicUrls/{name}': 'http://relais.example' does not match pattern" in error
    assert "^https://" in error


@pytest.mark.parametrize(
    "url", ["https://relais.example/notify", "relais.example", "https://", "ftp://relais.example"]
)
def test_a_public_url_is_a_scheme_and_a_host_only(helm: Path, url: str) -> None:
    """The Ingress routes a service's paths at the root of the URL's host: no path."""
    error = refused(helm, *demo_merchants(), "--set", f"publicUrls.notifier={url}")
    assert "at '/publicUrls/notifier'" in error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "publicUrls.chat is required: customer emails link to it"),
        (
            ["--set", f"publicUrls.chat={CHAT_URL}"],
            "publicUrls.notifier is required: customer emails link to it",
        ),
        (
            [
                "--set",
                "publicUrls.chat=http://chat.relais.example",
                "--set",
                f"publicUrls.notifier={CHAT_URL}",
            ],
            "publicUrls.chat: http://chat.relais.example is not https",
        ),
        (
            [
                *(
                    "--set",
                    f"publicUrls.chat={CHAT_URL}",
                    "--set",
                    f"publicUrls.notifier={CHAT_URL}",
                ),
                *("--set", "secureCookies=false"),
            ],
            "secureCookies: false is refused outside development",
        ),
    ],
)
def test_the_templates_refuse_them_too_without_the_schema(
    helm: Path, args: list[str], message: str
) -> None:
    error = refused(helm, *demo_merchants(), "--skip-schema-validation", *args, public_urls=False)
    assert message in error


def test_the_services_get_the_public_urls_and_run_as_production(helm: Path) -> None:
    manifests = render(
        helm, *demo_merchants(), "--set", "publicUrls.notifier=https://links.relais.example/"
    )
    for service in SERVICES:
        env = service_env(manifests, service)
        assert env["RELAIS_PUBLIC_CHAT_BASE_URL"]["value"] == CHAT_URL
        assert env["RELAIS_PUBLIC_NOTIFIER_BASE_URL"]["value"] == "https://links.relais.example"
        # RELAIS_ENVIRONMENT=production: the services themselves refuse http public URLs.
        assert env["RELAIS_ENVIRONMENT"]["value"] == "production"
        assert env["RELAIS_SECURE_COOKIES"]["value"] == "true"


def test_every_public_url_setting_of_a_service_is_set_by_the_chart(helm: Path) -> None:
    """A `public_*_url` setting a service reads (and refuses in production unless https)
    comes from publicUrls: none falls back to its default."""
    manifests = render(helm, *demo_merchants())
    for service, settings in SETTINGS.items():
        env = service_env(manifests, service)
        for field in settings.model_fields:
            if field.startswith("public_") and field.endswith("_url"):
                variable = f"RELAIS_{field.upper()}"
                assert variable in env, f"{service}: {variable} is not set by the chart"
                assert env[variable]["value"].startswith("https://")
    assert "environment" in RuntimeSettings.model_fields
    assert "secure_cookies" in InsightsSettings.model_fields


def test_development_allows_http_and_plain_cookies(helm: Path) -> None:
    manifests = render(
        helm,
        *demo_merchants(),
        *("--set", "development=true"),
        *("--set", "publicUrls.chat=http://localhost:8004"),
        *("--set", "publicUrls.notifier=http://localhost:8003"),
    )
    env = service_env(manifests, "insights")
    assert env["RELAIS_ENVIRONMENT"]["value"] == "development"
    assert env["RELAIS_SECURE_COOKIES"]["value"] == "false"
    assert env["RELAIS_PUBLIC_CHAT_BASE_URL"]["value"] == "http://localhost:8004"


def test_secure_cookies_cannot_be_turned_off_outside_development(helm: Path) -> None:
    error = refused(helm, *demo_merchants(), "--set", "secureCookies=false")
    assert "at '/secureCookies'" in error
    manifests = render(
        helm, *demo_merchants(), "--set", "development=true", "--set", "secureCookies=true"
    )
    assert service_env(manifests, "insights")["RELAIS_SECURE_COOKIES"]["value"] == "true"


@pytest.mark.parametrize(
    "managed", ["RELAIS_KAFKA_SECURITY_PROTOCOL", "RELAIS_PUBLIC_CHAT_BASE_URL", "PGSSLMODE"]
)
def test_a_setting_the_chart_owns_cannot_be_overridden_by_env(helm: Path, managed: str) -> None:
    error = refused(helm, *demo_merchants(), "--set", f"services.chat.env.{managed}=x")
    assert f"services.chat.env.{managed} is set by the chart from its own values" in error


# --- Ingress -------------------------------------------------------------------------


def test_each_public_url_routes_its_service_on_its_host(helm: Path) -> None:
    manifests = render(helm, *demo_merchants(), *ALL_PUBLIC)
    routed = ingress_routes(manifests)
    assert routed == {
        "chat.relais.example": {
            "chat": {"/c", "/s", "/t", "/track", "/static/chat"},
            "notifier": {"/u"},
        },
        "api.relais.example": {"tracker": {"/webhooks/carriers", "/v1/orders", "/v1/erasures"}},
        "insights.relais.example": {
            "insights": {
                "/insights",
                "/api/v1/merchants",
                "/static/insights",
                "/office",
                "/v1/office",
            }
        },
    }
    services = named(manifests, "Service")
    for backends in routed.values():
        for service in backends:
            assert f"rel-relais-{service}" in services


def test_a_service_without_a_public_url_is_not_routed(helm: Path) -> None:
    manifests = render(helm, *demo_merchants(), "--set", "ingress.enabled=true")
    assert ingress_routes(manifests) == {
        "chat.relais.example": {
            "chat": {"/c", "/s", "/t", "/track", "/static/chat"},
            "notifier": {"/u"},
        }
    }


def test_no_ingress_path_reaches_an_operational_endpoint(helm: Path) -> None:
    manifests = render(helm, *demo_merchants(), *ALL_PUBLIC)
    for backends in ingress_routes(manifests).values():
        for paths in backends.values():
            for prefix in paths:
                assert prefix.rstrip("/"), "a Prefix / would route everything"
                for endpoint in OPERATIONAL:
                    for request in (endpoint, endpoint + "/x"):
                        assert not prefix_matches(prefix, request), (prefix, request)


def test_the_ingress_paths_are_the_routes_the_services_serve(helm: Path) -> None:
    """Every path routed leads to a route of its service, and every route of a service
    with a public URL is routed (but the ones INTERNAL_ROUTES names)."""
    manifests = render(helm, *demo_merchants(), *ALL_PUBLIC)
    for backends in ingress_routes(manifests).values():
        for service, prefixes in backends.items():
            routes = handler_routes(service)
            assert routes, f"no route found in the handlers of {service}"
            for prefix in prefixes:
                assert any(prefix_matches(prefix, r) for r in routes), (service, prefix)
            for route in routes - INTERNAL_ROUTES.get(service, set()):
                assert any(prefix_matches(p, route) for p in prefixes), (service, route)


@pytest.mark.parametrize("path", ["/", "/metrics", "/docs", "/docs/oauth2-redirect", "/health"])
def test_an_operational_path_in_the_values_is_refused(helm: Path, path: str) -> None:
    error = refused(helm, *demo_merchants(), "--set", f"services.chat.ingress.paths={{/c,{path}}}")
    assert "at '/services/chat/ingress/paths/1'" in error


def test_the_template_refuses_an_operational_path_without_the_schema(helm: Path) -> None:
    error = refused(
        helm,
        *demo_merchants(),
        "--skip-schema-validation",
        *("--set", "ingress.enabled=true", "--set", "services.chat.ingress.paths={/c,/metrics}"),
    )
    assert 'services.chat.ingress.paths: "/metrics" would expose an operational endpoint' in error


# --- NetworkPolicies -----------------------------------------------------------------


def selects(policy: Manifest, labels: dict[str, str]) -> bool:
    wanted: dict[str, str] = policy["spec"]["podSelector"].get("matchLabels", {})
    return wanted.items() <= labels.items()


def ports_of(rule: Manifest) -> set[tuple[int, str]]:
    return {(int(p["port"]), p.get("protocol", "TCP")) for p in rule.get("ports", [])}


def test_network_policies_deny_by_default_and_cover_every_pod(helm: Path) -> None:
    manifests = render(helm, *demo_merchants())
    policies = named(manifests, "NetworkPolicy")
    deny = policies["rel-relais-default-deny"]
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    workloads = of_kind(manifests, "Deployment") + of_kind(manifests, "Job")
    assert {component(w) for w in workloads} == {*SERVICES, "topics"}
    for workload in workloads:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selects(deny, labels), workload["metadata"]["name"]
        own = [p for name, p in policies.items() if name != deny["metadata"]["name"]]
        mine = [p for p in own if selects(p, labels)]
        assert len(mine) == 1, workload["metadata"]["name"]
        assert mine[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_services_are_reachable_from_the_ingress_controller_and_prometheus_only(
    helm: Path,
) -> None:
    manifests = render(helm, *demo_merchants(), *ALL_PUBLIC)
    services = named(manifests, "Service")
    policies = named(manifests, "NetworkPolicy")
    ingress_controller = {"kubernetes.io/metadata.name": "ingress-nginx"}
    prometheus = {"kubernetes.io/metadata.name": "monitoring"}
    routed = {"chat", "notifier", "tracker", "insights"}
    for service in SERVICES:
        port = services[f"rel-relais-{service}"]["spec"]["ports"][0]["port"]
        rules = policies[f"rel-relais-{service}"]["spec"]["ingress"]
        sources = []
        for rule in rules:
            assert ports_of(rule) == {(port, "TCP")}, service
            (peer,) = rule["from"]
            selector = peer.get("namespaceSelector") or peer["podSelector"]
            sources.append(selector["matchLabels"])
        expected = [ingress_controller, prometheus] if service in routed else [prometheus]
        if service == "notifier":  # the campaign preview route, from insights only
            expected.append({**RELEASE_LABELS, "app.kubernetes.io/component": "insights"})
        assert sources == expected, service
    topics = policies["rel-relais-topics"]["spec"]
    assert "ingress" not in topics


def test_egress_is_dns_kafka_postgresql_and_per_service_smtp_and_https(helm: Path) -> None:
    manifests = render(
        helm,
        *demo_merchants(),
        *("--set", "kafka.bootstrap=b-1.kafka:9096\\,b-2.kafka:9096"),
        *("--set", "services.notifier.env.RELAIS_SMTP_PORT=2525"),
    )
    policies = named(manifests, "NetworkPolicy")
    needs = {"notifier": {"smtp", "https"}, "actions": {"https"}, "tracker": {"https"}}
    for name in (*SERVICES, "topics"):
        egress = policies[f"rel-relais-{name}"]["spec"]["egress"]
        every_port = set().union(*(ports_of(rule) for rule in egress))
        for rule in egress:
            assert rule.get("ports"), f"{name}: an egress rule open on every port"
        assert {(53, "UDP"), (53, "TCP"), (9096, "TCP")} <= every_port, name
        dns = next(rule for rule in egress if (53, "UDP") in ports_of(rule))
        assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
        if name == "topics":
            assert every_port == {(53, "UDP"), (53, "TCP"), (9096, "TCP")}
            continue
        assert (5432, "TCP") in every_port, name
        smtp = {(2525, "TCP"), (587, "TCP"), (465, "TCP"), (25, "TCP")}
        assert (smtp <= every_port) == ("smtp" in needs.get(name, set())), name
        https = [rule for rule in egress if ports_of(rule) == {(443, "TCP")}]
        assert bool(https) == ("https" in needs.get(name, set())), name
        for rule in https:
            (peer,) = rule["to"]
            assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
            # Never inside the cluster's networks nor the cloud metadata endpoint.
            assert {"10.0.0.0/8", "169.254.0.0/16"} <= set(peer["ipBlock"]["except"])


def test_network_policies_can_be_left_to_the_platform(helm: Path) -> None:
    manifests = render(helm, *demo_merchants(), "--set", "networkPolicy.enabled=false")
    assert of_kind(manifests, "NetworkPolicy") == []
