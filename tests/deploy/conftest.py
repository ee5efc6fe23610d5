"""A real `helm` for the chart tests, built once from source and cached outside the repo.

Looked up in order: $RELAIS_HELM, `helm` on PATH when it is v3, the cache
(~/.cache/relais/bin/helm, or $RELAIS_TOOLS_BIN). When none exists it is built with the
Go toolchain from the Go module proxy (`go install helm.sh/helm/v3/cmd/helm@<version>`,
a few minutes on two cores, once per machine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HELM_VERSION = "v3.22.0"
HELM_MODULE = f"helm.sh/helm/v3/cmd/helm@{HELM_VERSION}"


def tools_bin() -> Path:
    default = Path.home() / ".cache" / "relais" / "bin"
    return Path(os.environ.get("RELAIS_TOOLS_BIN", default))


def _is_helm_3(binary: str) -> bool:
    try:
        result = subprocess.run(
            [binary, "version", "--short"], capture_output=True, text=True, timeout=30
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.startswith("v3.")


def install_helm() -> Path:
    """Build helm into the tools directory with `go install`; return its path."""
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        raise RuntimeError(
            f"helm is missing and so is Go: install Go >= 1.24, or put helm {HELM_VERSION} "
            f"at {tools_bin() / 'helm'} (or set RELAIS_HELM)"
        )
    tools_bin().mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [go, "install", HELM_MODULE],
        check=True,
        env={**os.environ, "GOBIN": str(tools_bin()), "GOFLAGS": "-trimpath"},
        timeout=1800,
    )
    return tools_bin() / "helm"


def find_helm() -> Path:
    candidates = [os.environ.get("RELAIS_HELM"), shutil.which("helm"), str(tools_bin() / "helm")]
    for candidate in candidates:
        if candidate and _is_helm_3(candidate):
            return Path(candidate)
    return install_helm()


@pytest.fixture(scope="session")
def helm() -> Path:
    return find_helm()


if __name__ == "__main__":  # `python -m tests.deploy.conftest`: build or locate helm
    print(find_helm())
