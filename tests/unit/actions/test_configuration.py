"""Start-up configuration: merchants, webhook secrets, retry settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from relais_actions.bootstrap import resolve_endpoints
from relais_actions.settings import ActionsSettings
from relais_runtime.merchants import merchants_of
from relais_runtime.settings import ConfigurationError, load_settings
from tests.unit.actions.factories import actions_section, merchant, write_merchant


def test_each_merchant_webhook_gets_its_own_resolved_secret() -> None:
    merchants = {
        "shop-a": merchant(
            "shop-a", actions=actions_section(url="https://a.example/h", secret_env="A")
        ),
        "shop-b": merchant(
            "shop-b", actions=actions_section(url="https://b.example/h", secret_env="B")
        ),
        "shop-c": merchant("shop-c", actions=None),
    }
    endpoints = resolve_endpoints(merchants, directory=None, environ={"A": "alpha", "B": "beta"})
    assert set(endpoints) == {"shop-a", "shop-b"}
    assert endpoints["shop-a"].secrets == (b"alpha",)
    assert endpoints["shop-b"].url == "https://b.example/h"
    assert "alpha" not in repr(endpoints["shop-a"]), "a secret must never be printed"


def test_a_missing_secret_stops_start_up_naming_file_and_field(tmp_path: Path) -> None:
    write_merchant(tmp_path, "shop-a", actions=actions_section(secret_env="SHOP_A_SECRET"))
    settings = ActionsSettings(merchants_dir=tmp_path)
    merchants = merchants_of(settings.merchants_dir)
    with pytest.raises(ConfigurationError) as caught:
        resolve_endpoints(merchants, directory=tmp_path, environ={})
    assert str(caught.value) == (
        f"{tmp_path / 'shop-a.yaml'}: actions.webhook.secret: "
        "environment variable SHOP_A_SECRET is not set"
    )


def test_an_invalid_merchant_file_is_a_configuration_error(tmp_path: Path) -> None:
    write_merchant(tmp_path, "shop-a", actions=actions_section(allowed=("teleport",)))
    with pytest.raises(ConfigurationError, match=r"shop-a\.yaml: actions\.allowed\.0: Input"):
        merchants_of(ActionsSettings(merchants_dir=tmp_path).merchants_dir)


def test_no_merchants_directory_means_no_merchant() -> None:
    assert dict(merchants_of(ActionsSettings().merchants_dir)) == {}


def test_retry_settings_are_validated() -> None:
    settings = load_settings(ActionsSettings, retry_delays_s=(1, 2, 3))
    assert [delay.total_seconds() for delay in settings.retry_delays()] == [1, 2, 3]
    with pytest.raises(ConfigurationError, match="retry_delays_s"):
        load_settings(ActionsSettings, retry_delays_s=(1, 0))
    with pytest.raises(ConfigurationError, match="clock"):
        load_settings(ActionsSettings, clock="sundial")
