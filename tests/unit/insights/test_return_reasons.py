"""The reason a customer gave for a refused or returned parcel: kept in the facts (never
the comment), counted per reason on the dashboard."""

from __future__ import annotations

import json

from relais_contracts.actions import ReturnReason
from relais_contracts.topics import action_commands
from relais_contracts.topics.action_commands import ExecuteAction
from relais_insights.domain.facts import Fact, FactKind, fact_of
from relais_insights.domain.kpis import compute_report
from relais_insights.ui import texts
from relais_insights.ui.pages import render_dashboard
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.insights import InsightsSection
from tests.unit.insights.stream import PERIOD, at, fact

EXAMPLE = "ExecuteAction-refund-refused-reason.json"


def command() -> ExecuteAction:
    topic = action_commands.TOPIC
    event = topic.decode((topic.examples_dir() / EXAMPLE).read_bytes())
    assert isinstance(event, ExecuteAction)
    return event


def test_the_action_fact_keeps_the_reason_but_not_the_comment() -> None:
    event = command()
    found = fact_of(event)
    assert found is not None
    assert found.kind is FactKind.ACTION_REQUESTED
    assert found.detail["customer_reason"] == "arrived_too_late"
    assert "weekend" not in json.dumps(dict(found.detail))


def test_an_action_without_a_reason_has_none_in_its_fact() -> None:
    event = command()
    plain = event.model_copy(
        update={"request": event.request.model_copy(update={"customer_reason": None})}
    )
    found = fact_of(plain)
    assert found is not None
    assert "customer_reason" not in found.detail


def stream() -> list[Fact]:
    facts = []
    for n, reason in enumerate(["arrived_too_late", "wrong_item", "arrived_too_late", None]):
        anomaly = f"r{n}"
        facts.append(fact("anomaly_detected", f"p{n}", at(2, 9), anomaly, anomaly_type="refused"))
        detail = {"customer_reason": reason} if reason else {}
        facts.append(
            fact(
                "resolution_chosen",
                f"p{n}",
                at(2, 10),
                f"c{n}",
                anomaly_id=anomaly,
                outcome="execute_action",
                action="refund",
                **detail,
            )
        )
    return facts


def test_the_dashboard_counts_resolutions_per_reason() -> None:
    report = compute_report(
        merchant_id="acme",
        facts=stream(),
        shipments=[],
        period=PERIOD,
        model=InsightsSection(),
    )
    assert report.resolutions.return_reasons == {"arrived_too_late": 2, "wrong_item": 1}
    merchant = MerchantConfig.model_validate(
        {"merchant_id": "acme", "branding": {"display_name": "Acme"}, "locales": ["fr"]}
    )
    html = render_dashboard(merchant=merchant, report=report, lang="fr")
    assert "Pourquoi les colis ont été refusés ou renvoyés" in html
    assert "Arrivé trop tard" in html


def test_every_reason_has_a_label_in_every_dashboard_language() -> None:
    for language in texts.LANGUAGES:
        assert set(texts.RETURN_REASON_LABELS[language]) == {r.value for r in ReturnReason}
