"""HTTP: the JSON and CSV API (merchant API key) and the dashboard (signed session).

Rules:
- who may read what is decided by the dependencies of handlers.access, before a route
  runs: every read is scoped by the merchant the key or the session belongs to;
- the dashboard signs in with the API key through a form (never in a URL), which sets
  a cookie holding a signed, expiring session for that merchant only (HttpOnly,
  SameSite=Strict, scoped to the merchant's path, Secure behind HTTPS): the key itself
  is never stored in the browser.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from relais_insights.domain.export import to_csv
from relais_insights.domain.kpis import Report
from relais_insights.handlers.access import (
    COOKIE,
    DashboardPeriod,
    InsightsApp,
    KeyMerchant,
    KeyPeriod,
    KnownMerchant,
    SessionMerchant,
    SessionPeriod,
    SignedInMerchant,
)
from relais_insights.handlers.office_campaigns import add_campaign_routes
from relais_insights.handlers.office_desk import add_desk_routes
from relais_insights.handlers.office_orders import add_order_routes
from relais_insights.handlers.office_review import add_review_routes
from relais_insights.handlers.office_routes import OfficeRoute, add_office_routes
from relais_insights.service.application import Insights
from relais_insights.ui.pages import render_dashboard, render_login
from relais_runtime.routes import router_for

STATIC = Path(__file__).parent.parent / "static" / "insights.css"


@cache
def stylesheet() -> bytes:
    return STATIC.read_bytes()


def csv_response(report: Report) -> Response:
    name = f"insights-{report.merchant_id}-{report.period.start}-{report.period.end}.csv"
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def login_url(merchant_id: str, request: Request) -> str:
    lang = request.query_params.get("lang")
    return f"/insights/{merchant_id}/login" + (f"?lang={lang}" if lang else "")


async def insights_json(
    merchant: KeyMerchant, period: KeyPeriod, insights: InsightsApp
) -> JSONResponse:
    found = await insights.report(merchant, period)
    return JSONResponse(found.model_dump(mode="json"))


async def insights_csv(merchant: KeyMerchant, period: KeyPeriod, insights: InsightsApp) -> Response:
    return csv_response(await insights.report(merchant, period))


async def css() -> Response:
    return Response(
        stylesheet(), media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


async def login_form(merchant: KnownMerchant, request: Request) -> HTMLResponse:
    return HTMLResponse(render_login(merchant=merchant, lang=request.query_params.get("lang")))


async def login(
    merchant_id: str, merchant: KnownMerchant, request: Request, insights: InsightsApp
) -> Response:
    form = await request.form()
    key = form.get("api_key")
    lang = form.get("lang") if isinstance(form.get("lang"), str) else None
    owner = insights.owner_of_key(key) if isinstance(key, str) else None
    if owner != merchant_id:
        return HTMLResponse(
            render_login(merchant=merchant, lang=str(lang or ""), failed=True), status_code=401
        )
    sessions = insights.sessions
    target = f"/insights/{merchant_id}" + (f"?lang={lang}" if lang else "")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        sessions.open(merchant_id),
        max_age=int(sessions.max_age.total_seconds()),
        path=f"/insights/{merchant_id}",
        httponly=True,
        samesite="strict",
        secure=sessions.secure_cookies,
    )
    return response


async def logout(merchant_id: str) -> Response:
    response = RedirectResponse(f"/insights/{merchant_id}/login", status_code=303)
    response.delete_cookie(COOKIE, path=f"/insights/{merchant_id}")
    return response


async def dashboard(
    merchant_id: str,
    request: Request,
    merchant: SessionMerchant,
    shown: DashboardPeriod,
    insights: InsightsApp,
) -> Response:
    if merchant is None:
        return RedirectResponse(login_url(merchant_id, request), status_code=303)
    period, error = shown
    found = await insights.report(merchant, period)
    html = render_dashboard(
        merchant=merchant, report=found, lang=request.query_params.get("lang"), error=error
    )
    return HTMLResponse(html, status_code=400 if error else 200)


async def dashboard_csv(
    merchant: SignedInMerchant, period: SessionPeriod, insights: InsightsApp
) -> Response:
    return csv_response(await insights.report(merchant, period))


def build_router(insights: Insights) -> APIRouter:
    router = router_for(insights, tags=["insights"], route_class=OfficeRoute)
    router.add_api_route("/api/v1/merchants/{merchant_id}/insights", insights_json, methods=["GET"])
    router.add_api_route(
        "/api/v1/merchants/{merchant_id}/insights.csv", insights_csv, methods=["GET"]
    )
    router.add_api_route(
        "/static/insights/insights.css", css, methods=["GET"], include_in_schema=False
    )
    router.add_api_route(
        "/insights/{merchant_id}/login", login_form, methods=["GET"], response_class=HTMLResponse
    )
    router.add_api_route(
        "/insights/{merchant_id}/login", login, methods=["POST"], response_class=HTMLResponse
    )
    router.add_api_route("/insights/{merchant_id}/logout", logout, methods=["POST"])
    router.add_api_route(
        "/insights/{merchant_id}", dashboard, methods=["GET"], response_class=HTMLResponse
    )
    router.add_api_route("/insights/{merchant_id}/export.csv", dashboard_csv, methods=["GET"])
    add_office_routes(router)
    add_order_routes(router)
    add_campaign_routes(router)
    add_desk_routes(router)
    add_review_routes(router)
    return router
