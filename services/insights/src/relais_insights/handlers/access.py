"""Who is asking and for which period: the FastAPI dependencies of the insights routes.

Rules:
- the API takes `Authorization: Bearer <key>` (the same keys as the tracker's order
  API, `tracking.api_keys`): no or an unknown key is 401, then an unknown merchant is
  404, then a key of another merchant is 403, then a key without the `insights` scope
  is 403, then a bad period is 400 with the reason;
- the dashboard's session is a cookie holding a signed, expiring session for one
  merchant (service.sessions), never the key itself; an unknown merchant is 404 before
  any session is read;
- a period is the request's `from` and `to` (default: the last 30 days, ending today
  in the merchant's time zone); the dashboard shows a bad one as the default period
  with the reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from relais_insights.domain.period import Period, PeriodError, parse_period, period_or_default
from relais_insights.service.application import Insights
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.tracking import ApiScope
from relais_runtime.routes import context_of

COOKIE = "relais_insights"

InsightsApp = Annotated[Insights, Depends(context_of(Insights))]
Authorization = Annotated[str | None, Header()]


def known_merchant(merchant_id: str, insights: InsightsApp) -> MerchantConfig:
    merchant = insights.merchant(merchant_id)
    if merchant is None:
        raise HTTPException(status_code=404, detail=f"no merchant {merchant_id!r}")
    return merchant


KnownMerchant = Annotated[MerchantConfig, Depends(known_merchant)]


def key_merchant(
    merchant_id: str, insights: InsightsApp, authorization: Authorization = None
) -> MerchantConfig:
    owner = insights.owner_of_header(authorization)
    if owner is None:
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    merchant = known_merchant(merchant_id, insights)
    if owner != merchant_id:
        raise HTTPException(status_code=403, detail="this key belongs to another merchant")
    if not insights.key_has_scope(authorization, ApiScope.INSIGHTS):
        raise HTTPException(status_code=403, detail="this key lacks the insights scope")
    return merchant


KeyMerchant = Annotated[MerchantConfig, Depends(key_merchant)]


def session_merchant(
    request: Request, merchant: KnownMerchant, insights: InsightsApp
) -> MerchantConfig | None:
    """The merchant when the request's session opens its dashboard, else None."""
    token = request.cookies.get(COOKIE, "")
    return merchant if insights.sessions.opens(token, merchant.merchant_id) else None


SessionMerchant = Annotated[MerchantConfig | None, Depends(session_merchant)]


def signed_in_merchant(merchant: SessionMerchant) -> MerchantConfig:
    if merchant is None:
        raise HTTPException(status_code=401, detail="sign in to the dashboard first")
    return merchant


SignedInMerchant = Annotated[MerchantConfig, Depends(signed_in_merchant)]


def _asked_period(request: Request, merchant: MerchantConfig, insights: Insights) -> Period:
    try:
        return parse_period(
            start=request.query_params.get("from"),
            end=request.query_params.get("to"),
            today=insights.today(merchant),
            time_zone=merchant.time_zone,
        )
    except PeriodError as error:
        raise HTTPException(status_code=400, detail=f"bad period: {error}") from None


def key_period(request: Request, merchant: KeyMerchant, insights: InsightsApp) -> Period:
    return _asked_period(request, merchant, insights)


def session_period(request: Request, merchant: SignedInMerchant, insights: InsightsApp) -> Period:
    return _asked_period(request, merchant, insights)


KeyPeriod = Annotated[Period, Depends(key_period)]
SessionPeriod = Annotated[Period, Depends(session_period)]


def dashboard_period(
    request: Request, merchant: KnownMerchant, insights: InsightsApp
) -> tuple[Period, str | None]:
    """The period shown and, when the asked one is bad, why it is not the one shown."""
    query = request.query_params
    return period_or_default(
        start=query.get("from"),
        end=query.get("to"),
        days=query.get("days"),
        today=insights.today(merchant),
        time_zone=merchant.time_zone,
    )


DashboardPeriod = Annotated[tuple[Period, str | None], Depends(dashboard_period)]
