"""The chat's configuration, built once at start: merchants, scenarios, link signer.

Rules: every merchant's `chat` section is checked against the scenario library
before the service starts (each anomaly type's scenario exists, is an anomaly
scenario meant for that type and speaks the merchant's languages; the survey
scenario is a survey): a mismatch raises ConfigurationError naming the merchant's
file, the field and the scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from relais_chat.domain.scenarios import Scenario, ScenarioError
from relais_chat.domain.texts import language_of
from relais_chat.scenario_files import load_pack
from relais_chat.settings import ChatSettings
from relais_contracts.catalogue import AnomalyType
from relais_runtime.clock import Clock, clock_from_spec
from relais_runtime.links import LinkSigner
from relais_runtime.merchants import MerchantConfig, MerchantConfigError, load_merchants
from relais_runtime.settings import ConfigurationError

DEFAULT_PACK = Path(__file__).parent / "scenarios" / "default"


@dataclass(frozen=True)
class ChatConfiguration:
    merchants: dict[str, MerchantConfig]
    scenarios: Mapping[str, Scenario]
    signer: LinkSigner
    clock: Clock


def pack_directories(settings: ChatSettings) -> list[Path]:
    extra = settings.scenarios_dir
    if extra is not None and not extra.is_dir():
        raise ScenarioError(f"{extra}: scenarios_dir (RELAIS_SCENARIOS_DIR): not a directory")
    packs = sorted(path for path in extra.iterdir() if path.is_dir()) if extra else []
    return [DEFAULT_PACK, *packs]


def load_configuration(settings: ChatSettings) -> ChatConfiguration:
    from relais_chat.domain.access import make_signer

    try:
        scenarios = load_pack(pack_directories(settings))
        merchants = dict(load_merchants(settings.merchants_dir)) if settings.merchants_dir else {}
    except (ScenarioError, MerchantConfigError) as error:
        raise ConfigurationError(str(error)) from None
    problems = [
        problem
        for merchant in merchants.values()
        for problem in merchant_problems(merchant, scenarios)
    ]
    if problems:
        where = settings.merchants_dir
        raise ConfigurationError("\n".join(f"{where}/{problem}" for problem in problems))
    return ChatConfiguration(
        merchants=merchants,
        scenarios=scenarios,
        signer=make_signer(settings.link_secret.get_secret_value()),
        clock=clock_from_spec(settings.clock),
    )


def merchant_problems(merchant: MerchantConfig, scenarios: Mapping[str, Scenario]) -> list[str]:
    file = f"{merchant.merchant_id}.yaml"
    languages = {language_of(locale) for locale in merchant.locales}
    problems = []
    wanted: list[tuple[str, str, AnomalyType | None]] = [
        (f"chat.scenarios.{t.value}", merchant.chat.scenario_for(t), t) for t in AnomalyType
    ]
    wanted.append(("chat.survey_scenario", merchant.chat.survey_scenario, None))
    for field, scenario_id, anomaly_type in wanted:
        scenario = scenarios.get(scenario_id)
        if scenario is None:
            problems.append(f"{file}: {field}: no scenario {scenario_id!r}")
            continue
        if anomaly_type is None and scenario.purpose != "survey":
            problems.append(f"{file}: {field}: {scenario_id!r} is not a survey")
        if anomaly_type is not None and anomaly_type not in scenario.anomaly_types:
            problems.append(
                f"{file}: {field}: {scenario_id!r} does not answer {anomaly_type.value}"
            )
        missing = sorted(languages - set(scenario.languages))
        if missing:
            problems.append(f"{file}: {field}: {scenario_id!r} lacks languages {missing}")
    return problems
