"""`relais up` generates the local-only secrets the configuration references."""

from __future__ import annotations

from pathlib import Path

import pytest

from relais_cli.dev_secrets import ensure_dev_secrets, read_env_file, referenced_env_secrets
from relais_runtime.merchants import load_merchants

DEMO_MERCHANTS = Path(__file__).parents[2] / "deploy" / "merchants"


def test_every_secret_reference_of_the_demo_merchants_is_found() -> None:
    merchants = load_merchants(DEMO_MERCHANTS)
    names = {name for config in merchants.values() for name in referenced_env_secrets(config)}
    assert {
        "RELAIS_MAISON_LUMIERE_WEBHOOK_SECRET",
        "RELAIS_VELOCITY_SPORTS_WEBHOOK_SECRET",
    } <= names


def test_missing_secrets_are_generated_once_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchants = load_merchants(DEMO_MERCHANTS)
    platform = ("RELAIS_CUSTOMER_LINK_SECRETS", "RELAIS_SESSION_SECRETS", "RELAIS_OPT_OUT_PEPPER")
    for name in platform:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RELAIS_VELOCITY_SPORTS_WEBHOOK_SECRET", "set-by-the-developer")
    first = ensure_dev_secrets(state_dir=tmp_path, merchants=merchants)
    second = ensure_dev_secrets(state_dir=tmp_path, merchants=merchants)
    assert first == second
    assert "RELAIS_VELOCITY_SPORTS_WEBHOOK_SECRET" not in first
    stored = tmp_path / "dev-secrets.env"
    assert stored.stat().st_mode & 0o777 == 0o600
    for name in platform:  # one secret per purpose, each its own value
        assert len(first[name]) >= 32
        assert read_env_file(stored)[name] == first[name]
    assert len({first[name] for name in platform}) == len(platform)
