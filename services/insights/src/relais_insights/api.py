"""HTTP: the JSON and CSV API (merchant API key) and the dashboard (signed session).

Rules:
- the API takes `Authorization: Bearer <key>` (the same keys as the tracker's order
  API, `tracking.api_keys`): no or an unknown key is 401, a key of another merchant
  is 403, an unknown merchant is 404, a bad period is 400 with the reason;
- the dashboard signs in with the same API key through a form (never in a URL), which
  sets a cookie holding a signed, expiring session for that merchant only (LinkSigner,
  purpose `dashboard`; HttpOnly, SameSite=Strict, scoped to the merchant's path,
  Secure behind HTTPS): the key itself is never stored in the browser;
- every read is scoped by the merchant the key or the session belongs to.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from relais_insights.configuration import InsightsConfiguration
from relais_insights.dashboard import render_dashboard, render_login
from relais_insights.domain.export import to_csv
from relais_insights.domain.kpis import Report
from relais_insights.domain.period import (
    DEFAULT_DAYS,
    MAX_DAYS,
    Period,
    PeriodError,
    parse_period,
)
from relais_insights.reports import build_report
from relais_runtime.links import LinkError, LinkPurpose
from relais_runtime.merchants import MerchantConfig

STATIC = Path(__file__).parent / "static" / "insights.css"
COOKIE = "relais_insights"
Authorization = Annotated[str | None, Header()]


def today_for(merchant: MerchantConfig, configuration: InsightsConfiguration) -> date:
    return configuration.clock.now().astimezone(ZoneInfo(merchant.time_zone)).date()


def _days(raw: str | None) -> int:
    """The `days` shortcut of the dashboard (7, 30, 90...), 30 when absent or odd."""
    return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= MAX_DAYS else DEFAULT_DAYS


def build_router(*, pool: asyncpg.Pool, configuration: InsightsConfiguration) -> APIRouter:
    router = APIRouter(tags=["insights"])
    stylesheet = STATIC.read_bytes()

    def known(merchant_id: str) -> MerchantConfig:
        merchant = configuration.merchants.get(merchant_id)
        if merchant is None:
            raise HTTPException(status_code=404, detail=f"no merchant {merchant_id!r}")
        return merchant

    def requested_period(merchant: MerchantConfig, request: Request) -> Period:
        """The period of the request's `from` and `to` (default: the last 30 days)."""
        try:
            return parse_period(
                start=request.query_params.get("from"),
                end=request.query_params.get("to"),
                today=today_for(merchant, configuration),
                time_zone=merchant.time_zone,
            )
        except PeriodError as error:
            raise HTTPException(status_code=400, detail=f"bad period: {error}") from None

    def authorized(merchant_id: str, authorization: str | None) -> MerchantConfig:
        owner = configuration.keys.merchant_of_header(authorization)
        if owner is None:
            raise HTTPException(
                status_code=401,
                detail="missing or invalid API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        merchant = known(merchant_id)
        if owner != merchant_id:
            raise HTTPException(status_code=403, detail="this key belongs to another merchant")
        return merchant

    async def report(merchant: MerchantConfig, period: Period) -> Report:
        async with pool.acquire() as connection:
            return await build_report(connection, merchant=merchant, period=period)

    def csv_response(found: Report) -> Response:
        name = f"insights-{found.merchant_id}-{found.period.start}-{found.period.end}.csv"
        return Response(
            to_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get("/api/v1/merchants/{merchant_id}/insights")
    async def insights_json(
        merchant_id: str, request: Request, authorization: Authorization = None
    ) -> JSONResponse:
        merchant = authorized(merchant_id, authorization)
        period = requested_period(merchant, request)
        found = await report(merchant, period)
        return JSONResponse(found.model_dump(mode="json"))

    @router.get("/api/v1/merchants/{merchant_id}/insights.csv")
    async def insights_csv(
        merchant_id: str, request: Request, authorization: Authorization = None
    ) -> Response:
        merchant = authorized(merchant_id, authorization)
        period = requested_period(merchant, request)
        return csv_response(await report(merchant, period))

    @router.get("/static/insights/insights.css", include_in_schema=False)
    async def css() -> Response:
        return Response(
            stylesheet, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    def session_merchant(request: Request, merchant_id: str) -> MerchantConfig | None:
        merchant = known(merchant_id)
        token = request.cookies.get(COOKIE, "")
        try:
            claims = configuration.signer.verify(
                token, purpose=LinkPurpose.DASHBOARD, now=configuration.clock.now()
            )
        except (LinkError, KeyError, ValueError):
            return None
        return merchant if claims.merchant_id == merchant_id == claims.subject else None

    def login_url(merchant_id: str, request: Request) -> str:
        lang = request.query_params.get("lang")
        return f"/insights/{merchant_id}/login" + (f"?lang={lang}" if lang else "")

    @router.get("/insights/{merchant_id}/login", response_class=HTMLResponse)
    async def login_form(merchant_id: str, request: Request) -> HTMLResponse:
        merchant = known(merchant_id)
        return HTMLResponse(render_login(merchant=merchant, lang=request.query_params.get("lang")))

    @router.post("/insights/{merchant_id}/login", response_class=HTMLResponse)
    async def login(merchant_id: str, request: Request) -> Response:
        merchant = known(merchant_id)
        form = await request.form()
        key = form.get("api_key")
        lang = form.get("lang") if isinstance(form.get("lang"), str) else None
        owner = configuration.keys.merchant_of(key.strip()) if isinstance(key, str) else None
        if owner != merchant_id:
            return HTMLResponse(
                render_login(merchant=merchant, lang=str(lang or ""), failed=True), status_code=401
            )
        token = configuration.signer.sign(
            merchant_id=merchant_id,
            purpose=LinkPurpose.DASHBOARD,
            subject=merchant_id,
            issued_at=configuration.clock.now(),
        )
        target = f"/insights/{merchant_id}" + (f"?lang={lang}" if lang else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(configuration.session_max_age.total_seconds()),
            path=f"/insights/{merchant_id}",
            httponly=True,
            samesite="strict",
            secure=configuration.secure_cookies,
        )
        return response

    @router.post("/insights/{merchant_id}/logout")
    async def logout(merchant_id: str) -> Response:
        response = RedirectResponse(f"/insights/{merchant_id}/login", status_code=303)
        response.delete_cookie(COOKIE, path=f"/insights/{merchant_id}")
        return response

    @router.get("/insights/{merchant_id}", response_class=HTMLResponse)
    async def dashboard(merchant_id: str, request: Request) -> Response:
        merchant = session_merchant(request, merchant_id)
        if merchant is None:
            return RedirectResponse(login_url(merchant_id, request), status_code=303)
        query = request.query_params
        try:
            period = parse_period(
                start=query.get("from"),
                end=query.get("to"),
                today=today_for(merchant, configuration),
                time_zone=merchant.time_zone,
                default_days=_days(query.get("days")),
            )
            error = None
        except PeriodError as problem:
            period = parse_period(
                start=None,
                end=None,
                today=today_for(merchant, configuration),
                time_zone=merchant.time_zone,
            )
            error = str(problem)
        found = await report(merchant, period)
        html = render_dashboard(
            merchant=merchant, report=found, lang=query.get("lang"), error=error
        )
        return HTMLResponse(html, status_code=400 if error else 200)

    @router.get("/insights/{merchant_id}/export.csv")
    async def dashboard_csv(merchant_id: str, request: Request) -> Response:
        merchant = session_merchant(request, merchant_id)
        if merchant is None:
            raise HTTPException(status_code=401, detail="sign in to the dashboard first")
        period = requested_period(merchant, request)
        return csv_response(await report(merchant, period))

    return router
