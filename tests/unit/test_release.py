"""Release files and versions: the licence, the changelog, one semantic version for every
package and the image, the licence declared everywhere, and no plotting or FastStream in
what the services install."""

from __future__ import annotations

import glob
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
# sha256 of the Apache License 2.0 exactly as https://www.apache.org/licenses/LICENSE-2.0.txt
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def pyprojects() -> dict[str, dict[str, Any]]:
    """Every pyproject.toml of the workspace (root and members), by path."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found = {"pyproject.toml": root}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for member in sorted(glob.glob(str(ROOT / pattern))):
            path = Path(member) / "pyproject.toml"
            if path.is_file():
                found[path.relative_to(ROOT).as_posix()] = tomllib.loads(
                    path.read_text(encoding="utf-8")
                )
    assert len(found) >= 10
    return found


def the_version() -> str:
    versions = {path: data["project"]["version"] for path, data in pyprojects().items()}
    assert len(set(versions.values())) == 1, f"one version for every package: {versions}"
    (version,) = set(versions.values())
    return version


def test_every_package_has_the_same_semantic_version() -> None:
    assert SEMVER.match(the_version())


def test_every_package_declares_the_apache_licence() -> None:
    for path, data in pyprojects().items():
        assert data["project"].get("license") == "Apache-2.0", path
        backend = data.get("build-system", {}).get("requires", [])
        if backend:  # SPDX license expressions need hatchling 1.27 (PEP 639)
            assert backend == ["hatchling>=1.27"], path


def test_the_licence_is_the_unmodified_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    assert b"APPENDIX: How to apply the Apache License to your work." in text


def test_the_changelog_has_an_unreleased_section_and_the_current_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "keepachangelog.com" in changelog
    assert "semver.org" in changelog
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, flags=re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert the_version() in headings
    assert f"[{the_version()}]: " in changelog


def test_the_policies_exist() -> None:
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for command in ("./relais demo", "./relais test", "./relais lint"):
        assert command in contributing
    security = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert "Supported versions" in security
    assert the_version().rsplit(".", 1)[0] in security


def dockerfile_args() -> dict[str, str]:
    args: dict[str, str] = {}
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^ARG (\w+)=(.*)$", line.strip()):
            args[match[1]] = match[2].strip('"')
    return args


def test_the_image_is_labelled_with_the_version_licence_and_source() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile_args()["RELAIS_VERSION"] == the_version()
    for label in ("title", "description", "version", "licenses", "source", "revision"):
        assert f"org.opencontainers.image.{label}=" in dockerfile, label
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in dockerfile
    assert 'org.opencontainers.image.version="${RELAIS_VERSION}"' in dockerfile


def test_the_chart_ships_the_same_version() -> None:
    chart = yaml.safe_load((ROOT / "deploy/helm/relais/Chart.yaml").read_text(encoding="utf-8"))
    assert str(chart["appVersion"]) == the_version()


def test_plotting_is_an_extra_the_services_do_not_install() -> None:
    for path, data in pyprojects().items():
        required = " ".join(data["project"].get("dependencies", []))
        assert "matplotlib" not in required, f"{path}: matplotlib must stay in an extra"
    cli = pyprojects()["cli/pyproject.toml"]["project"]
    assert any(d.startswith("matplotlib") for d in cli["optional-dependencies"]["plots"])
    dev = pyprojects()["pyproject.toml"]["dependency-groups"]["dev"]
    assert "relais[plots]" in dev  # ./relais and .ci/run sync the dev group
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if "uv sync" in line:
            assert "--no-dev" in line
            assert "--extra" not in line
            assert "--all-extras" not in line


def test_faststream_is_no_dependency() -> None:
    for path, data in pyprojects().items():
        everything = [
            *data["project"].get("dependencies", []),
            *(d for group in data.get("dependency-groups", {}).values() for d in group),
            *(
                d
                for extra in data["project"].get("optional-dependencies", {}).values()
                for d in extra
            ),
        ]
        assert not [d for d in everything if "faststream" in str(d).lower()], path
    assert 'name = "faststream"' not in (ROOT / "uv.lock").read_text(encoding="utf-8")


def test_the_base_image_is_pinned_by_digest() -> None:
    """Every FROM resolves to `name:tag@sha256:<64 hex>`, directly or through an ARG default."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, flags=re.MULTILINE))
    bases = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    assert bases
    for base in bases:
        reference = re.sub(r"^\$\{(\w+)\}$", lambda found: defaults[found.group(1)], base)
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", reference), base
