"""The back office's pages: the frame every office page extends (templates/office/base.html)
and the pages of people and access (sign-in, users, audit log, refusals).

Rules: rendered on the server with jinja2 autoescape, usable without JavaScript; the
language is `?lang=` when it is fr or en, else the signed-in user's, else the merchant's
first locale; every POST form carries the session's CSRF token (`csrf_field()` in the
frame); the admin entries of the navigation show only to admins.
"""

from __future__ import annotations

from typing import Any

from relais_insights.domain.kpis import Report
from relais_insights.domain.office import Role
from relais_insights.service.office_users import SignedInUser
from relais_insights.service.review_queue import over_limit_count
from relais_insights.ui import texts
from relais_insights.ui.pages import Formats, _base, chart_set, templates
from relais_runtime.merchants import MerchantConfig

NAVIGATION: tuple[tuple[str, str], ...] = (
    ("orders", "orders"),
    ("campaigns", "campaigns"),
    ("review", "review"),
    ("desk", "desk"),
    ("dashboard", "dashboard"),
)
"""(text key suffix `office_nav_<key>`, path under /office/<merchant>/) of every office section."""

ADMIN_NAVIGATION: tuple[tuple[str, str], ...] = (("users", "users"), ("audit", "audit"))


def office_language(lang: str | None, user: SignedInUser | None, merchant: MerchantConfig) -> str:
    if lang in texts.LANGUAGES:
        return lang
    return texts.ui_language(user.language if user else None, merchant.locales[0])


def office_context(
    *,
    merchant: MerchantConfig,
    user: SignedInUser | None,
    lang: str | None,
    section: str = "",
    query: str = "",
) -> dict[str, Any]:
    """What templates/office/base.html needs; a page adds its own values."""
    context = _base(merchant, office_language(lang, user, merchant))
    admin = user is not None and user.can(Role.ADMIN)
    context.update(
        user=user,
        csrf_token=user.csrf_token if user else "",
        section=section,
        query=query,
        office_url=f"/office/{merchant.merchant_id}",
        base_url=f"/office/{merchant.merchant_id}",
        nav=NAVIGATION + (ADMIN_NAVIGATION if admin else ()),
        badges={"review": over_limit_count(merchant.merchant_id)} if user else {},
        notice=None,
    )
    return context


def render_office(
    template: str,
    *,
    merchant: MerchantConfig,
    user: SignedInUser | None,
    lang: str | None,
    section: str = "",
    query: str = "",
    **values: Any,
) -> str:
    """Render `template` (a path under templates/, e.g. "office/orders.html") in the frame."""
    context = office_context(merchant=merchant, user=user, lang=lang, section=section, query=query)
    context.update(values)
    return templates.get_template(template).render(context)


def render_office_dashboard(
    *,
    merchant: MerchantConfig,
    user: SignedInUser,
    report: Report,
    lang: str | None,
    error: str | None = None,
) -> str:
    """The insights dashboard (templates/dashboard.html) inside the office's frame."""
    period = report.period
    context = office_context(merchant=merchant, user=user, lang=lang, section="dashboard")
    language = context["lang"]
    fmt = Formats(language)
    query = f"from={period.start}&to={period.end}"
    base_url = f"/office/{merchant.merchant_id}/dashboard"
    context.update(
        layout="office/base.html",
        report=report,
        fmt=fmt,
        charts=chart_set(report, context["t"], fmt, language=language),
        error=error,
        query=query,
        csv_url=f"{base_url}/export.csv?{query}",
        base_url=base_url,
        title=texts.say(language, "title"),
    )
    return templates.get_template("dashboard.html").render(context)
