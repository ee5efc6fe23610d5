"""`relais merchant`: new, add-key, revoke-key, validate, show, on temporary directories.

Every file the command writes is read back with the services' own loader
(relais_runtime.merchants) and every key checked with the tracker's key ring."""

from __future__ import annotations

import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from relais_cli.main import app
from relais_cli.merchant_cmd import add_key, new_key_id
from relais_runtime.api_keys import ApiKeyRing, api_key_sha256
from relais_runtime.merchants import load_merchant_file, load_merchants
from tests.conftest import REPO_ROOT

DEMO_MERCHANTS = Path(REPO_ROOT) / "deploy" / "merchants"
runner = CliRunner()


def relais(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["merchant", *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_new_writes_a_minimal_valid_file_and_never_overwrites(tmp_path: Path) -> None:
    code, _, err = relais(
        "new", "shop-x", "--dir", tmp_path, "--name", "Shop X", "--locale", "en", "--locale", "no"
    )
    assert code == 0, err
    path = tmp_path / "shop-x.yaml"
    config = load_merchants(tmp_path)["shop-x"]
    assert config.branding.display_name == "Shop X"
    assert config.locales == ("en", "no"), "`no` stays a language, never YAML's false"
    assert config.time_zone == "Europe/Paris"
    assert config.tracking.api_keys == ()
    assert oct(stat.S_IMODE(path.stat().st_mode)) == oct(0o644)

    path.write_text(path.read_text() + "# edited by hand\n")
    before = path.read_text()
    code, _, err = relais("new", "shop-x", "--dir", tmp_path)
    assert code == 1
    assert "already exists, not overwritten" in err
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["shop-x.yaml"], "no temporary file left"


def test_new_refuses_what_the_loader_would_refuse(tmp_path: Path) -> None:
    code, _, err = relais("new", "Shop X", "--dir", tmp_path)
    assert code == 1
    assert "merchant id 'Shop X'" in err
    code, _, err = relais("new", "shop-y", "--dir", tmp_path, "--time-zone", "Mars/Olympus")
    assert code == 1
    assert "shop-y.yaml: time_zone: Value error, unknown IANA time zone" in err
    code, _, err = relais("new", "shop-y", "--dir", tmp_path, "--locale", "english")
    assert code == 1
    assert "locales" in err
    code, _, err = relais("new", "unknown", "--dir", tmp_path)
    assert code == 1
    assert "reserved" in err
    code, _, err = relais("new", "shop-z", "--dir", tmp_path / "missing")
    assert code != 0
    assert list(tmp_path.iterdir()) == []


def test_add_key_prints_it_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    relais("new", "shop-x", "--dir", tmp_path)
    path = tmp_path / "shop-x.yaml"
    code, out, err = relais("add-key", "shop-x", "--dir", tmp_path, "--id", "checkout")
    assert code == 0, err
    key = out.strip()
    assert out == f"{key}\n", "stdout is the key alone"
    assert key.startswith("rk_")
    assert len(key) >= 40
    assert key not in path.read_text(), "the key itself is never stored"
    assert key not in err

    ring = ApiKeyRing.of(load_merchants(tmp_path))
    assert ring.merchant_of_header(f"Bearer {key}") == "shop-x"
    config = load_merchant_file(path)
    assert [(k.id, k.sha256) for k in config.tracking.api_keys] == [
        ("checkout", api_key_sha256(key))
    ]
    assert lines_of(path)[0].startswith("# Relais merchant configuration"), "comments kept"

    code, _, err = relais("add-key", "shop-x", "--dir", tmp_path, "--id", "checkout")
    assert code == 1
    assert "a key 'checkout' exists" in err
    code, _, err = relais("add-key", "shop-x", "--dir", tmp_path, "--id", "bad id!")
    assert code == 1
    assert "key id 'bad id!'" in err
    code, _, err = relais("add-key", "nobody", "--dir", tmp_path)
    assert code == 1
    assert "no configuration for merchant 'nobody'" in err

    code, second, _ = relais("add-key", "shop-x", "--dir", tmp_path)
    assert code == 0
    ids = [k.id for k in load_merchant_file(path).tracking.api_keys]
    assert ids[0] == "checkout"
    assert ids[1].startswith("key-")
    assert ApiKeyRing.of(load_merchants(tmp_path)).merchant_of(second.strip()) == "shop-x"


def test_key_ids_default_to_the_date_and_stay_unique() -> None:
    day = datetime(2026, 11, 2, tzinfo=UTC)
    assert new_key_id(set(), day) == "key-20261102"
    assert new_key_id({"key-20261102", "key-20261102-2"}, day) == "key-20261102-3"


def test_editing_a_hand_written_file_changes_only_the_key_lines(tmp_path: Path) -> None:
    shutil.copy(DEMO_MERCHANTS / "velocity-sports.yaml", tmp_path)
    path = tmp_path / "velocity-sports.yaml"
    path.chmod(0o600)
    original = lines_of(path)

    added = add_key(tmp_path, "velocity-sports", key_id="ops", key="rk_" + "k" * 43)
    assert added.comments_kept
    now = lines_of(path)
    assert [line for line in now if line not in original] == [
        f'    - {{id: "ops", sha256: "{api_key_sha256("rk_" + "k" * 43)}"}}'
    ]
    assert [line for line in original if line not in now] == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "the file's mode is kept"

    code, out, err = relais("revoke-key", "velocity-sports", "demo", "--dir", tmp_path)
    assert code == 0, err
    assert "revoked key 'demo'" in out
    after = lines_of(path)
    assert [line for line in original if line not in after] == [
        "    - {id: demo, sha256: f9bedc318ea9fe2d5cb87094b30f585bfb65fb7ae3182949d2e8e4c3d3c29aaa}"
    ]
    assert [k.id for k in load_merchant_file(path).tracking.api_keys] == ["ops"]
    assert "  # and put its hash here." in after, "comments around the list stay"

    code, _, err = relais("revoke-key", "velocity-sports", "demo", "--dir", tmp_path)
    assert code == 1
    assert "no key 'demo' (keys: ops)" in err
    relais("revoke-key", "velocity-sports", "ops", "--dir", tmp_path)
    assert "  api_keys: []" in lines_of(path)
    assert load_merchant_file(path).tracking.api_keys == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["velocity-sports.yaml"]


@pytest.mark.parametrize(
    ("layout", "kept"),
    [
        ("merchant_id: shop-x\nbranding: {display_name: X}\n", True),
        (
            "merchant_id: shop-x\ntracking:\n  carrier_webhooks: {}\nbranding: {display_name: X}\n",
            True,
        ),
        (
            "merchant_id: shop-x\ntracking:\n  api_keys:\n  - {id: a, sha256: '"
            + "a" * 64
            + "'}\n  # a note\nbranding: {display_name: X}\n",
            True,
        ),
        ("merchant_id: shop-x\ntracking: {api_keys: []}\nbranding: {display_name: X}\n", False),
    ],
    ids=["no tracking section", "no api_keys", "items at the key's indent", "flow style"],
)
def test_every_layout_ends_valid(tmp_path: Path, layout: str, kept: bool) -> None:
    path = tmp_path / "shop-x.yaml"
    path.write_text(layout)
    code, out, err = relais("add-key", "shop-x", "--dir", tmp_path, "--id", "new")
    assert code == 0, err
    assert ("comments were not kept" not in err) is kept
    keys = load_merchant_file(path).tracking.api_keys
    assert keys[-1].sha256 == api_key_sha256(out.strip())
    code, _, err = relais("revoke-key", "shop-x", "new", "--dir", tmp_path)
    assert code == 0, err
    assert "new" not in [k.id for k in load_merchant_file(path).tracking.api_keys]


def test_validate_prints_every_problem_with_file_field_and_reason(tmp_path: Path) -> None:
    code, out, _ = relais("validate", DEMO_MERCHANTS)
    assert code == 0
    assert out == f"2 merchant(s) valid in {DEMO_MERCHANTS}\n"

    for name in ("maison-lumiere.yaml", "velocity-sports.yaml"):
        shutil.copy(DEMO_MERCHANTS / name, tmp_path)
    broken = tmp_path / "maison-lumiere.yaml"
    data = yaml.safe_load(broken.read_text())
    data["time_zone"] = "Europe/Atlantis"
    data["branding"]["tone"] = "shouty"
    broken.write_text(yaml.safe_dump(data))
    (tmp_path / "wrong-name.yaml").write_text("merchant_id: other\nbranding: {display_name: O}\n")
    (tmp_path / "not-yaml.yaml").write_text("merchant_id: [\n")
    twin = yaml.safe_load((DEMO_MERCHANTS / "velocity-sports.yaml").read_text())
    twin["merchant_id"] = "velocity-twin"
    (tmp_path / "velocity-twin.yaml").write_text(yaml.safe_dump(twin))

    code, out, err = relais("validate", tmp_path)
    assert code == 2
    problems = out.splitlines()
    assert f"{broken}: branding.tone: Input should be 'formal' or 'informal'" in problems
    assert any(p.startswith(f"{broken}: time_zone: Value error, unknown IANA") for p in problems)
    assert any(p.startswith(f"{tmp_path / 'wrong-name.yaml'}: merchant_id:") for p in problems)
    assert any(p.startswith(f"{tmp_path / 'not-yaml.yaml'}: not valid YAML") for p in problems)
    assert any("key 'demo' is configured twice" in p for p in problems), "across files"
    assert len(problems) == 5
    assert "5 problem(s)" in err

    code, out, _ = relais("validate", tmp_path / "missing")
    assert code == 2
    assert "not a directory" in out


def test_validate_with_secrets_resolves_every_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(DEMO_MERCHANTS / "velocity-sports.yaml", tmp_path)
    monkeypatch.delenv("RELAIS_VELOCITY_SPORTS_WEBHOOK_SECRET", raising=False)
    code, out, _ = relais("validate", tmp_path, "--secrets")
    assert code == 2
    assert out.splitlines() == [
        f"{tmp_path / 'velocity-sports.yaml'}: actions.webhook.secret: "
        "environment variable RELAIS_VELOCITY_SPORTS_WEBHOOK_SECRET is not set"
    ]
    monkeypatch.setenv("RELAIS_VELOCITY_SPORTS_WEBHOOK_SECRET", "s" * 32)
    assert relais("validate", tmp_path, "--secrets")[0] == 0
    assert relais("validate", tmp_path)[0] == 0, "without --secrets, references are not read"

    path = tmp_path / "velocity-sports.yaml"
    path.write_text(
        path.read_text().replace("timeout_s: 8", "timeout_s: 8\n    signature: standard")
    )
    code, out, _ = relais("validate", tmp_path, "--secrets")
    assert code == 2
    assert "actions.webhook.secret: a standard signature needs a secret starting with whsec_" in out
    assert "s" * 32 not in out


def test_show_prints_the_effective_configuration_without_secrets(tmp_path: Path) -> None:
    shutil.copy(DEMO_MERCHANTS / "velocity-sports.yaml", tmp_path)
    code, out, err = relais("show", "velocity-sports", "--dir", tmp_path)
    assert code == 0, err
    shown = yaml.safe_load(out)
    assert shown["merchant_id"] == "velocity-sports"
    assert shown["tracking"]["api_keys"] == [{"id": "demo", "sha256": "f9bedc31... <redacted>"}]
    assert "f9bedc318ea9fe2d5cb87094b30f585bfb65fb7ae3182949d2e8e4c3d3c29aaa" not in out
    assert shown["actions"]["webhook"]["secret"] == {"env": "RELAIS_VELOCITY_SPORTS_WEBHOOK_SECRET"}
    assert shown["actions"]["webhook"]["signature"] == "relais", "defaults are shown"
    assert shown["chat"]["link_max_age_days"] == 21

    code, _, err = relais("show", "nobody", "--dir", tmp_path)
    assert code == 1
    assert "no configuration for merchant 'nobody'" in err
