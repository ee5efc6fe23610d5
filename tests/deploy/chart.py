"""Rendering the Helm chart for the tests: a real `helm template`, read back as manifests."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "relais"
MERCHANTS = REPO / "deploy" / "merchants"
METRICS_MODULE = REPO / "libs" / "src" / "relais_runtime" / "metrics.py"
KUBERNETES_VERSION = "1.31.0"
SERVICES = ("tracker", "detector", "notifier", "chat", "actions", "insights")

CHAT_URL = "https://chat.relais.example"
# The values every render needs: the public URLs customer emails link to.
PUBLIC_URLS = [
    "--set",
    f"publicUrls.chat={CHAT_URL}",
    "--set",
    f"publicUrls.notifier={CHAT_URL}",
]

Manifest = dict[str, Any]


def demo_merchants() -> list[str]:
    args = []
    for path in sorted(MERCHANTS.glob("*.yaml")):
        key = path.name.replace(".", "\\.")
        args += ["--set-file", f"merchants.files.{key}={path}"]
    return args


def run_helm(helm: Path, *args: str, public_urls: bool = True) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart; the public URLs are given unless `public_urls=False`."""
    required = PUBLIC_URLS if public_urls else []
    return subprocess.run(
        [
            str(helm),
            "template",
            "rel",
            str(CHART),
            "--namespace",
            "relais",
            "--kube-version",
            KUBERNETES_VERSION,
            *required,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def render(helm: Path, *args: str) -> list[Manifest]:
    result = run_helm(helm, *args)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def refused(helm: Path, *args: str, public_urls: bool = True) -> str:
    """Render expecting a refusal; return helm's error output."""
    result = run_helm(helm, *args, public_urls=public_urls)
    assert result.returncode != 0, f"rendered although it should not: {args}"
    return result.stderr


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def named(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {manifest["metadata"]["name"]: manifest for manifest in of_kind(manifests, kind)}


def component(manifest: Manifest) -> str:
    component_name: str = manifest["metadata"]["labels"]["app.kubernetes.io/component"]
    return component_name


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {item["name"]: item for item in container.get("env", [])}


def exported_metrics() -> set[str]:
    """Every series name the runtime exports, read from metrics.py (not imported).

    prometheus_client exposes a Counter `x` or `x_total` as `x_total`, a Histogram `x`
    as `x_bucket`, `x_sum` and `x_count`, a Gauge as itself.
    """
    tree = ast.parse(METRICS_MODULE.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        name = first.value
        match node.func.id:
            case "Counter":
                names.add(name.removesuffix("_total") + "_total")
            case "Gauge":
                names.add(name)
            case "Histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            case "Summary":
                names |= {f"{name}_sum", f"{name}_count"}
    return names
