"""Period parsing, the CSV export, the dashboard's words and the SVG charts."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from relais_contracts.actions import ActionType
from relais_contracts.catalogue import AnomalyType
from relais_insights.domain.export import HEADER, to_csv
from relais_insights.domain.kpis import compute_report
from relais_insights.domain.period import PeriodError, parse_period
from relais_insights.ui import charts
from relais_insights.ui import texts as ui
from relais_runtime.merchants.insights import InsightsSection
from tests.unit.insights.stream import PERIOD, facts, shipments

TODAY = date(2026, 3, 31)


def test_default_period_is_the_last_30_days_ending_today() -> None:
    period = parse_period(start=None, end=None, today=TODAY, time_zone="Europe/Paris")
    assert (period.start, period.end, len(period.days)) == (date(2026, 3, 2), TODAY, 30)


def test_explicit_period() -> None:
    period = parse_period(start="2026-01-01", end="2026-01-31", today=TODAY, time_zone="UTC")
    assert (period.start, period.end) == (date(2026, 1, 1), date(2026, 1, 31))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-02-30", None, "from: '2026-02-30' is not a date"),
        ("yesterday", None, "from: 'yesterday' is not a date"),
        ("2026-03-10", "2026-03-01", "to (2026-03-01) is before from (2026-03-10)"),
        ("2024-01-01", "2026-01-01", "longer than 366 days"),
    ],
)
def test_bad_periods_say_why(start: str, end: str | None, message: str) -> None:
    with pytest.raises(PeriodError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_period(start=start, end=end, today=TODAY, time_zone="UTC")


def test_csv_has_one_figure_per_row_and_no_comments() -> None:
    report = compute_report(
        merchant_id="acme",
        facts=facts(),
        shipments=shipments(),
        period=PERIOD,
        model=InsightsSection(),
    )
    text = to_csv(report)
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["merchant", "acme", "period", "2026-03-02..2026-03-04"]
    assert tuple(lines[1]) == HEADER
    rows = {(s, d, k): v for s, d, k, v in lines[2:]}
    assert rows[("headline", "", "money_saved")] == "3.23"
    assert rows[("anomalies", "by_type", "lost")] == "1"
    assert rows[("anomalies", "by_day.count", "2026-03-03")] == "1"
    assert rows[("funnel", "stages.count", "action_chosen")] == "1"
    assert rows[("carriers", "by_carrier.on_time_rate", "dhl")] == "0.0"
    assert rows[("csat", "distribution", "5")] == "1"
    assert rows[("time_to_tell", "", "median_minutes")] == "20.0"
    assert "Parfait" not in text
    assert "Trop tard" not in text


def test_every_word_exists_in_every_language() -> None:
    keys = {language: set(words) for language, words in ui.CATALOGUE.items()}
    assert set(keys) == set(ui.LANGUAGES)
    assert keys["en"] == keys["fr"]


@pytest.mark.parametrize("language", ui.LANGUAGES)
def test_every_anomaly_type_and_action_has_a_label_in_every_language(language: str) -> None:
    assert set(ui.ANOMALY_LABELS[language]) == {item.value for item in AnomalyType}
    assert set(ui.ACTION_LABELS[language]) == {item.value for item in ActionType}
    assert ui.anomaly_label("fr", "failed_attempt") == "Échec de livraison"
    assert ui.anomaly_label("en", "a_newer_type") == "a_newer_type"


def test_ui_language_falls_back_to_the_merchant_then_english() -> None:
    assert ui.ui_language("fr", "en") == "fr"
    assert ui.ui_language("de", "fr-FR") == "fr"
    assert ui.ui_language(None, "de") == "en"


def test_charts_escape_labels_and_show_values() -> None:
    svg = str(charts.bars("By type", [("<script>", 3), ("lost", 1)]))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert svg.count("<rect") == 2
    assert ">3</text>" in svg
    assert 'aria-label="By type"' in svg
    columns = str(charts.columns("Per day", [("1 Mar", 0), ("2 Mar", 4)]))
    assert columns.count("<rect") == 2
    assert ">4</text>" in columns
