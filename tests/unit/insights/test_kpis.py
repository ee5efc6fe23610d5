"""Exact figures from the known stream (tests/unit/insights/stream.py explains each)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relais_insights.domain.facts import FactKind
from relais_insights.domain.kpis import REPORT_KINDS, Report, compute_report
from relais_runtime.merchants.insights import ContactCost, InsightsSection
from tests.unit.insights.stream import PERIOD, fact, facts, shipments


@pytest.fixture(scope="module")
def report() -> Report:
    return compute_report(
        merchant_id="acme",
        facts=facts(),
        shipments=shipments(),
        period=PERIOD,
        model=InsightsSection(),
    )


def test_anomalies_by_type_carrier_region_and_day(report: Report) -> None:
    anomalies = report.anomalies
    assert anomalies.total == 3
    assert list(anomalies.by_type.items()) == [
        ("delivery_late", 1),
        ("failed_attempt", 1),
        ("lost", 1),
    ]
    assert anomalies.by_carrier == {"colissimo": 2, "dhl": 1}
    assert list(anomalies.by_region) == ["FR-75", "FR-69"]
    assert anomalies.by_region == {"FR-75": 2, "FR-69": 1}
    assert [(row.day, row.count) for row in anomalies.by_day] == [
        (date(2026, 3, 2), 1),
        (date(2026, 3, 3), 1),
        (date(2026, 3, 4), 1),
    ]


def test_share_of_parcels_with_an_anomaly(report: Report) -> None:
    assert (report.anomalies.parcels, report.anomalies.parcels_with_anomaly) == (4, 3)
    assert report.anomalies.share_of_parcels == 0.75


def test_time_from_the_carrier_event_to_the_customer_told(report: Report) -> None:
    told = report.time_to_tell
    assert (told.anomalies, told.told, told.told_share) == (3, 2, 0.6667)
    assert (told.median_minutes, told.p90_minutes) == (20.0, 30.0)


def test_funnel_escalations_and_abandonment(report: Report) -> None:
    funnel = report.funnel
    assert [(s.stage, s.count, s.share_of_previous) for s in funnel.stages] == [
        ("anomalies", 3, None),
        ("told", 2, 0.6667),
        ("opened", 2, 1.0),
        ("completed", 2, 1.0),
        ("action_chosen", 1, 0.5),
        ("action_completed", 1, 1.0),
    ]
    assert (funnel.callbacks_requested, funnel.actions_escalated, funnel.anomalies_escalated) == (
        1,
        1,
        1,
    )
    assert (funnel.conversations_abandoned, funnel.abandonment_rate) == (0, 0.0)


def test_resolutions_and_time_to_resolution(report: Report) -> None:
    resolutions = report.resolutions
    assert resolutions.choices == {"redelivery": 1}
    assert resolutions.actions_completed == {"redelivery": 1, "reship": 1}
    assert resolutions.actions_failed == {"merchant_rejected": 1}
    assert resolutions.automatic_actions == 1
    assert (resolutions.resolved, resolutions.resolution_rate) == (2, 0.6667)
    assert resolutions.resolved_by_reason == {"action_completed": 1, "facts_changed": 1}
    assert (resolutions.median_hours_to_resolution, resolutions.p90_hours_to_resolution) == (
        15.0,
        25.0,
    )


def test_csat_distribution_average_and_comments(report: Report) -> None:
    csat = report.csat
    assert csat.responses == 3
    assert csat.distribution == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    assert csat.average == 3.67
    assert [(c.day, c.csat, c.comment) for c in csat.comments] == [
        (date(2026, 3, 4), 2, "Trop tard"),
        (date(2026, 3, 3), 5, "Parfait"),
    ]


def test_wismo_views_per_order(report: Report) -> None:
    wismo = report.wismo
    assert (wismo.orders, wismo.tracking_page_views, wismo.parcels_viewed) == (5, 3, 2)
    assert wismo.views_per_order == 0.6
    assert wismo.by_entry == {"email_link": 2, "sms_link": 1}


def test_carrier_performance_by_carrier_and_region(report: Report) -> None:
    rows = [
        (
            r.key,
            r.delivered,
            r.with_promise,
            r.on_time,
            r.on_time_rate,
            r.median_lead_time_hours,
            r.first_attempt_rate,
        )
        for r in report.carriers.by_carrier
    ]
    assert rows == [
        ("colissimo", 2, 1, 1, 1.0, 33.0, 1.0),
        ("dhl", 1, 1, 0, 0.0, 47.0, 0.0),
    ]
    assert [(r.key, r.delivered) for r in report.carriers.by_region] == [("FR-75", 2), ("FR-69", 1)]


def test_savings_and_headline(report: Report) -> None:
    saved = report.savings
    assert (saved.anomalies_told, saved.tracking_page_views) == (2, 3)
    assert (saved.contacts_avoided_from_anomalies, saved.contacts_avoided_from_wismo) == (0.8, 0.9)
    assert saved.contacts_avoided == 1.7
    assert (saved.money_saved, saved.currency) == (Decimal("3.23"), "EUR")
    headline = report.headline
    assert headline.on_time_rate == 0.5
    assert (headline.anomaly_share, headline.csat_average, headline.money_saved) == (
        0.75,
        3.67,
        "3.23",
    )


def test_merchant_model_overrides_the_defaults() -> None:
    model = InsightsSection(
        cost_per_contact=ContactCost(amount=Decimal("2.50"), currency="GBP"),
        anomaly_contact_rate=1.0,
        wismo_contact_rate=0.0,
    )
    found = compute_report(
        merchant_id="acme", facts=facts(), shipments=shipments(), period=PERIOD, model=model
    )
    assert (found.savings.contacts_avoided, found.savings.money_saved) == (2.0, Decimal("5.00"))
    assert found.headline.currency == "GBP"


def test_an_empty_period_has_no_rates_rather_than_zeros() -> None:
    found = compute_report(
        merchant_id="acme", facts=[], shipments=[], period=PERIOD, model=InsightsSection()
    )
    assert found.anomalies.share_of_parcels is None
    assert found.time_to_tell.median_minutes is None
    assert found.csat.average is None
    assert found.wismo.views_per_order is None
    assert found.savings.money_saved == Decimal("0.00")
    assert [row.count for row in found.anomalies.by_day] == [0, 0, 0]


def test_the_order_facts_arrive_in_does_not_change_the_figures() -> None:
    once = compute_report(
        merchant_id="acme",
        facts=facts(),
        shipments=shipments(),
        period=PERIOD,
        model=InsightsSection(),
    )
    stream = facts()
    twice = compute_report(
        merchant_id="acme",
        facts=list(reversed(stream)),
        shipments=shipments(),
        period=PERIOD,
        model=InsightsSection(),
    )
    assert once == twice


def test_the_report_reads_only_its_kinds_so_the_others_need_not_be_loaded() -> None:
    """Facts of the other kinds (carrier scans, milestones, sends deferred...) around the
    same shipments and moments change no figure: the repository can leave them out."""
    stream = facts()
    others = [
        fact(kind.value, known.shipment_id, known.occurred_at, anomaly_id="a1", channel="email")
        for known in stream
        for kind in FactKind
        if kind not in REPORT_KINDS
    ]
    whole = compute_report(
        merchant_id="acme",
        facts=[*stream, *others],
        shipments=shipments(),
        period=PERIOD,
        model=InsightsSection(),
    )
    assert others
    assert whole == compute_report(
        merchant_id="acme",
        facts=stream,
        shipments=shipments(),
        period=PERIOD,
        model=InsightsSection(),
    )
