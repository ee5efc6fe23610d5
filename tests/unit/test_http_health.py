"""/health names the service and the Relais version; relais_build_info says the same."""

from __future__ import annotations

from importlib import metadata

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from relais_runtime.http import build_http_app
from relais_runtime.version import DISTRIBUTION, version


def test_the_version_is_the_runtime_distributions() -> None:
    assert DISTRIBUTION == "relais-runtime"
    assert version() == metadata.version("relais-runtime")


def test_health_answers_with_the_service_and_its_version() -> None:
    client = TestClient(build_http_app(service="detector", readiness={}))
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "detector", "version": version()}


def test_build_info_is_one_for_the_service_and_exposed() -> None:
    client = TestClient(build_http_app(service="notifier", readiness={}))
    labels = {"version": version(), "service": "notifier"}
    assert REGISTRY.get_sample_value("relais_build_info", labels) == 1.0
    exposition = client.get("/metrics").text
    assert f'relais_build_info{{service="notifier",version="{version()}"}} 1.0' in exposition


def test_the_openapi_document_carries_the_version() -> None:
    client = TestClient(build_http_app(service="chat", readiness={}))
    assert client.get("/openapi.json").json()["info"]["version"] == version()
