"""A merchant's chat section against the scenario library.

Rule: each anomaly type's scenario exists, is an anomaly scenario meant for that
type and speaks the merchant's languages; the survey scenario is a survey. Each
problem names the merchant's file, the field and the scenario.
"""

from __future__ import annotations

from collections.abc import Mapping

from relais_chat.domain.scenarios import Scenario
from relais_chat.domain.translations import language_of
from relais_contracts.catalogue import AnomalyType
from relais_runtime.merchants import MerchantConfig


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
