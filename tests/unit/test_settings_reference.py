"""The settings reference (docs/configuration.md and .env.example) matches the models.

When a setting is added, removed or changed, regenerate both files with
`relais settings reference` (`./relais settings reference`, or `uv run relais settings
reference`) and commit them with the change."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from pydantic import SecretStr
from typer.testing import CliRunner

from relais_cli.main import app
from relais_cli.settings_reference import (
    DOC_PATH,
    ENV_EXAMPLE_PATH,
    REGENERATE,
    collect,
    render_all,
    service_settings,
)
from relais_runtime.settings import KafkaSettings, RuntimeSettings
from tests.conftest import REPO_ROOT

ROOT = Path(REPO_ROOT)


def test_the_committed_reference_is_generated_from_the_models() -> None:
    for path, expected in render_all().items():
        committed = ROOT / path
        actual = committed.read_text(encoding="utf-8") if committed.is_file() else ""
        if actual != expected:
            diff = "".join(
                list(
                    difflib.unified_diff(
                        actual.splitlines(keepends=True),
                        expected.splitlines(keepends=True),
                        fromfile=f"{path} (committed)",
                        tofile=f"{path} (from the models)",
                    )
                )[:60]
            )
            raise AssertionError(
                f"{path} is out of date with the settings models: regenerate it with "
                f"`{REGENERATE}` (or `./relais settings reference`) and commit it.\n{diff}"
            )


def test_every_field_of_every_service_is_in_the_reference() -> None:
    settings = {setting.field: setting for setting in collect() if setting.group != "relais"}
    services = service_settings()
    assert set(services) == {"tracker", "detector", "notifier", "chat", "actions", "insights"}
    for service, cls in services.items():
        for name in cls.model_fields:
            assert service in settings[name].readers, (service, name)
    for name in RuntimeSettings.model_fields:
        assert settings[name].readers == tuple(services), "the runtime's settings: everyone's"
        expected = "kafka" if name in KafkaSettings.model_fields else "runtime"
        assert settings[name].group == expected


def test_names_follow_the_prefix_and_the_aliases() -> None:
    by_field = {s.field: s for s in collect() if s.group != "relais"}
    assert by_field["kafka_bootstrap"].names == ("RELAIS_KAFKA_BOOTSTRAP",)
    assert by_field["database_url"].names == ("RELAIS_DATABASE_URL", "DATABASE_URL")
    assert by_field["otel_traces_exporter"].names == (
        "RELAIS_OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_EXPORTER",
    )
    port = by_field["http_port"]
    assert port.default_text(markdown=False) == (
        "tracker 8001, detector 8002, notifier 8003, chat 8004, actions 8005, insights 8006"
    )


def test_secrets_never_show_a_value_and_required_ones_are_marked() -> None:
    rendered = render_all()
    doc, env = rendered[DOC_PATH], rendered[ENV_EXAMPLE_PATH]
    secrets = [setting for setting in collect() if setting.secret]
    assert {"RELAIS_KAFKA_SASL_PASSWORD", "RELAIS_SMTP_PASSWORD"} <= {s.name for s in secrets}
    for setting in secrets:
        assert setting.default_text(markdown=False) in {"unset", "required"}, setting.name
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{setting.name}`"))
        assert "🔒" in row
        assignment = next(line for line in env.splitlines() if f"{setting.name}=" in line)
        assert assignment.endswith(f"{setting.name}="), "no value, ever"

    required = [setting for setting in collect() if setting.required]
    for setting in required:
        assert f"\n{setting.name}=\n" in env, f"{setting.name}: uncommented and empty"
        assert "**required**" in next(
            line for line in doc.splitlines() if line.startswith(f"| `{setting.name}`")
        )
    for cls in service_settings().values():
        for name, info in cls.model_fields.items():
            if info.is_required() and "SecretStr" in str(info.annotation):
                assert any(s.field == name for s in required)
    assert SecretStr  # the type the reference recognises as a secret


def test_the_env_example_is_a_valid_env_file_of_known_variables() -> None:
    env = render_all()[ENV_EXAMPLE_PATH]
    known = {name for setting in collect() for name in setting.names}
    assignments = [
        re.sub(r"^# ", "", line)
        for line in env.splitlines()
        if re.match(r"^(# )?[A-Z][A-Z0-9_]*=", line)
    ]
    names = [line.split("=", 1)[0] for line in assignments]
    assert set(names) <= known
    assert len(names) == len(set(names)), "each variable once"
    assert str(Path.home()) not in env + render_all()[DOC_PATH], "nothing of this machine"


def test_check_mode_names_the_stale_files_and_the_command(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["settings", "reference", "--check", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert REGENERATE in result.stderr
    assert runner.invoke(app, ["settings", "reference", "--root", str(tmp_path)]).exit_code == 0
    assert (tmp_path / DOC_PATH).read_text() == render_all()[DOC_PATH]
    check = runner.invoke(app, ["settings", "reference", "--check", "--root", str(tmp_path)])
    assert check.exit_code == 0
