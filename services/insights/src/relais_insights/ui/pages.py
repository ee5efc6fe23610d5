"""The merchant's dashboard page: branded, localized (fr/en), charts as inline SVG.

Rules: rendered on the server with jinja2 autoescape (no JavaScript needed); the
language is `?lang=` when it is fr or en, else the merchant's first locale; numbers,
percentages, money and dates are formatted by babel in that language.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import Environment, PackageLoader, select_autoescape

from relais_contracts.common import carrier_display_name
from relais_insights.domain.kpis import Report
from relais_insights.ui import charts, texts
from relais_runtime.merchants import MerchantConfig

templates = Environment(
    loader=PackageLoader("relais_insights", "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def on_color(background: str) -> str:
    """Black or white text, whichever reads better on the background."""
    return "#000000" if _luminance(background) > 0.179 else "#ffffff"


def _base(merchant: MerchantConfig, lang: str | None) -> dict[str, Any]:
    language = texts.ui_language(lang, merchant.locales[0])
    colors = merchant.branding.colors
    return {
        "lang": language,
        "languages": texts.LANGUAGES,
        "t": lambda key, **values: texts.say(language, key, **values),
        "carrier_name": carrier_display_name,
        "merchant": merchant,
        "theme": {
            "primary": colors.primary,
            "on_primary": on_color(colors.primary),
            "accent": colors.accent,
            "background": colors.background,
            "text": colors.text,
        },
    }


def render_login(*, merchant: MerchantConfig, lang: str | None, failed: bool = False) -> str:
    context = _base(merchant, lang)
    return templates.get_template("login.html").render(context, failed=failed)


class Formats:
    """babel formatting in one language; None shows as a dash."""

    def __init__(self, language: str) -> None:
        self.locale = {"fr": "fr_FR", "en": "en_GB"}[language]

    def percent(self, value: float | None) -> str:
        return "—" if value is None else format_percent(value, "#,##0.#%", locale=self.locale)

    def number(self, value: float | int | None) -> str:
        return "—" if value is None else format_decimal(value, "#,##0.##", locale=self.locale)

    def money(self, value: Decimal | str, currency: str) -> str:
        return format_currency(Decimal(str(value)), currency, locale=self.locale)

    def day(self, value: Any) -> str:
        return format_date(value, "medium", locale=self.locale)


def chart_set(report: Report, t: Any, fmt: Formats, *, language: str) -> dict[str, Any]:
    anomalies, resolutions = report.anomalies, report.resolutions
    stages = [(t(f"stage_{stage.stage}"), stage.count) for stage in report.funnel.stages]
    return {
        "by_day": charts.columns(
            t("anomalies_by_day"), [(fmt.day(row.day), row.count) for row in anomalies.by_day]
        ),
        "by_type": charts.bars(
            t("anomalies_by_type"),
            [(texts.anomaly_label(language, code), n) for code, n in anomalies.by_type.items()],
        ),
        "by_carrier": charts.bars(
            t("anomalies_by_carrier"),
            [(carrier_display_name(code), n) for code, n in anomalies.by_carrier.items()],
        ),
        "by_region": charts.bars(t("anomalies_by_region"), list(anomalies.by_region.items())[:12]),
        "funnel": charts.bars(t("funnel"), stages),
        "csat": charts.bars(
            t("csat"),
            [
                ("★" * int(score), count)
                for score, count in reversed(report.csat.distribution.items())
            ],
        ),
        "choices": charts.bars(
            t("resolutions"),
            [(texts.action_label(language, code), n) for code, n in resolutions.choices.items()],
        ),
        "return_reasons": charts.bars(
            t("return_reasons"),
            [
                (texts.return_reason_label(language, code), n)
                for code, n in resolutions.return_reasons.items()
            ],
        ),
    }


def render_dashboard(
    *, merchant: MerchantConfig, report: Report, lang: str | None, error: str | None = None
) -> str:
    context = _base(merchant, lang)
    fmt = Formats(context["lang"])
    period = report.period
    query = f"from={period.start}&to={period.end}&lang={context['lang']}"
    context.update(
        report=report,
        fmt=fmt,
        charts=chart_set(report, context["t"], fmt, language=context["lang"]),
        error=error,
        query=query,
        csv_url=f"/insights/{merchant.merchant_id}/export.csv?{query}",
        base_url=f"/insights/{merchant.merchant_id}",
        title=texts.say(context["lang"], "title"),
    )
    return templates.get_template("dashboard.html").render(context)
