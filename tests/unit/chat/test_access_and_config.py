"""Links, merchant configuration against the pack, the pages' words and the theme."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relais_chat.bootstrap import configure
from relais_chat.domain.access import Denied, Granted, check_link, make_signer
from relais_chat.domain.library import merchant_problems
from relais_chat.domain.scenarios import Scenario
from relais_chat.settings import ChatSettings
from relais_chat.ui import words as ui
from relais_chat.ui.presentation import contrast_ratio, readable_on, theme
from relais_runtime.links import LinkPurpose
from relais_runtime.merchants import MerchantConfig, load_merchants
from relais_runtime.settings import ConfigurationError, load_settings
from tests.unit.chat.conftest import REPO

SECRET = "test-only-link-secret-0123456789abcdef"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def merchants() -> dict[str, MerchantConfig]:
    return dict(load_merchants(REPO / "deploy" / "merchants"))


def sign(
    merchant_id: str, *, purpose: LinkPurpose = LinkPurpose.CHAT, age: timedelta = timedelta()
) -> str:
    return make_signer([SECRET]).sign(
        merchant_id=merchant_id, purpose=purpose, subject="a-subject", issued_at=NOW - age
    )


def check(
    token: str, merchants: dict[str, MerchantConfig], purpose: LinkPurpose = LinkPurpose.CHAT
) -> Granted | Denied:
    return check_link(
        signer=make_signer([SECRET]), token=token, purpose=purpose, now=NOW, merchants=merchants
    )


def test_a_fresh_link_opens_its_merchant(merchants: dict[str, MerchantConfig]) -> None:
    result = check(sign("maison-lumiere"), merchants)
    assert isinstance(result, Granted)
    assert result.merchant.merchant_id == "maison-lumiere"
    assert result.claims.subject == "a-subject"


def test_a_tampered_link_names_no_merchant(merchants: dict[str, MerchantConfig]) -> None:
    token = sign("maison-lumiere")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert check(tampered, merchants) == Denied(reason="invalid", merchant=None)


def test_another_secret_is_refused(merchants: dict[str, MerchantConfig]) -> None:
    token = make_signer(["another-secret-0123456789abcdefghijkl"]).sign(
        merchant_id="maison-lumiere", purpose=LinkPurpose.CHAT, subject="x", issued_at=NOW
    )
    assert check(token, merchants) == Denied(reason="invalid", merchant=None)


def test_a_link_for_another_page_is_refused(merchants: dict[str, MerchantConfig]) -> None:
    result = check(sign("maison-lumiere", purpose=LinkPurpose.TRACKING), merchants)
    assert result == Denied(reason="invalid", merchant=None)


def test_expiry_follows_the_merchants_own_max_age(merchants: dict[str, MerchantConfig]) -> None:
    # maison-lumiere keeps links 30 days, velocity-sports 21.
    assert isinstance(check(sign("maison-lumiere", age=timedelta(days=25)), merchants), Granted)
    expired = check(sign("velocity-sports", age=timedelta(days=25)), merchants)
    assert isinstance(expired, Denied)
    assert expired.reason == "expired"
    assert expired.merchant is not None
    assert expired.merchant.merchant_id == "velocity-sports"


def test_an_unknown_merchant_is_refused(merchants: dict[str, MerchantConfig]) -> None:
    assert check(sign("someone-else"), merchants) == Denied(reason="invalid", merchant=None)


def test_demo_merchants_match_the_pack(
    merchants: dict[str, MerchantConfig], pack: dict[str, Scenario]
) -> None:
    for merchant in merchants.values():
        assert merchant_problems(merchant, pack) == []


def test_a_wrong_scenario_is_named_with_file_and_field(
    merchants: dict[str, MerchantConfig], pack: dict[str, Scenario]
) -> None:
    base = merchants["maison-lumiere"].model_dump(mode="json")
    base["chat"]["scenarios"] = {"lost": "default/delivery_late", "damaged": "default/nope"}
    base["chat"]["survey_scenario"] = "default/lost"
    problems = merchant_problems(MerchantConfig.model_validate(base), pack)
    assert problems == [
        "maison-lumiere.yaml: chat.scenarios.lost: 'default/delivery_late' does not answer lost",
        "maison-lumiere.yaml: chat.scenarios.damaged: no scenario 'default/nope'",
        "maison-lumiere.yaml: chat.survey_scenario: 'default/lost' is not a survey",
    ]


def test_every_ui_key_exists_in_every_language() -> None:
    keys = [set(words) for words in ui.platform_texts().texts.values()]
    assert len(keys) == len(ui.LANGUAGES)
    assert all(k == keys[0] for k in keys)


def test_text_on_brand_colours_stays_readable(merchants: dict[str, MerchantConfig]) -> None:
    assert readable_on("#f4b942") == "#000000"
    assert readable_on("#0b5cad") == "#ffffff"
    for merchant in merchants.values():
        colours = theme(merchant)
        assert contrast_ratio(colours["primary"], colours["on_primary"]) >= 4.5
        assert contrast_ratio(colours["accent"], colours["on_accent"]) >= 4.5


def test_a_broken_extra_pack_stops_start_up_naming_file_and_node(tmp_path: Path) -> None:
    pack = tmp_path / "acme"
    pack.mkdir()
    (pack / "late.yaml").write_text(
        "anomaly_types: [delivery_late]\nlanguages: [en]\nstart: a\nnodes:\n"
        "  a: {kind: message, text: {en: Hi}, next: b}\n"
        "  b: {kind: resolution, outcome: execute_action, action: teleport, text: {en: Done}}\n"
    )
    settings = ChatSettings(
        customer_link_secrets=[SECRET],
        scenarios_dir=tmp_path,
        merchants_dir=REPO / "deploy" / "merchants",
    )
    with pytest.raises(ConfigurationError) as error:
        configure(settings)
    assert f"{pack / 'late.yaml'}: node 'b': unknown action 'teleport'" in str(error.value)


def test_the_demo_configuration_loads(tmp_path: Path) -> None:
    settings = ChatSettings(
        customer_link_secrets=[SECRET],
        merchants_dir=REPO / "deploy" / "merchants",
    )
    configuration = configure(settings)
    assert set(configuration.merchants) == {"maison-lumiere", "velocity-sports"}
    assert "default/survey" in configuration.scenarios


def test_the_customer_link_secrets_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAIS_CUSTOMER_LINK_SECRETS", raising=False)
    with pytest.raises(ConfigurationError, match="RELAIS_CUSTOMER_LINK_SECRETS"):
        load_settings(ChatSettings)
