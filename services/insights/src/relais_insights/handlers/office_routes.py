"""HTTP: the back office's people and access: sign-in, sign-out, users, sessions, audit log.

Rules:
- the sign-in form posts email and password (never in a URL); success sets the cookie
  `relais_office` holding only the session's random id (HttpOnly, SameSite=Lax, path
  /office/<merchant>, Secure outside development) and redirects to the orders; a wrong
  email or password is 401 with one message for both; a throttled sign-in is 429 with
  Retry-After;
- every POST of a signed-in page goes through CsrfForm (handlers.office_access); a
  refused CSRF token or role is shown as a page (OfficeRoute), never as JSON;
- user management is for admins, is audited, and acts only on users of the path's
  merchant; an admin cannot disable, demote or sign out themselves here (the command
  line can), so a merchant is never left without an admin by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.datastructures import FormData

from relais_insights.handlers.access import InsightsApp, dashboard_period
from relais_insights.handlers.office_access import (
    COOKIE,
    ApiCaller,
    CsrfForm,
    CsrfRefused,
    OfficeMerchant,
    OfficeUser,
)
from relais_insights.service import office_users
from relais_insights.service.office_users import Refused, SignedIn, Throttled
from relais_insights.ui import texts
from relais_insights.ui.office import render_office, render_office_dashboard


class OfficeRoute(APIRoute):
    """Shows a refused CSRF token or role on an office page as a page saying so."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.path.startswith("/office/"):
            return handler

        async def with_refusal_page(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as error:
                if error.status_code != 403:
                    raise
                return refusal_page(request, csrf=isinstance(error, CsrfRefused))

        return with_refusal_page


def refusal_page(request: Request, *, csrf: bool) -> HTMLResponse:
    insights = request.state.relais_route_context
    merchant = insights.merchant(request.path_params.get("merchant_id", ""))
    lang = texts.ui_language(request.query_params.get("lang"), "en")
    if merchant is None:
        return HTMLResponse("forbidden", status_code=403)
    heading = texts.say(lang, "office_csrf_title" if csrf else "office_forbidden")
    text = texts.say(lang, "office_csrf_text" if csrf else "office_forbidden")
    html = render_office(
        "office/refused.html", merchant=merchant, user=None, lang=lang, heading=heading, text=text
    )
    return HTMLResponse(html, status_code=403)


def _lang(request: Request, form: FormData | None = None) -> str | None:
    given = form.get("lang") if form is not None else None
    value = given if isinstance(given, str) else request.query_params.get("lang")
    return value if value in texts.LANGUAGES else None


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def login_form(merchant: OfficeMerchant, request: Request) -> HTMLResponse:
    html = render_office(
        "office/login.html", merchant=merchant, user=None, lang=_lang(request), section="login"
    )
    return HTMLResponse(html)


async def login(merchant: OfficeMerchant, request: Request, insights: InsightsApp) -> Response:
    form = await request.form()
    lang = _lang(request, form)
    email = _field(form, "email")
    address = request.client.host if request.client else ""
    outcome = await insights.office.sign_in(
        merchant.merchant_id, email, str(form.get("password") or ""), address
    )
    if isinstance(outcome, SignedIn):
        return await _signed_in(outcome, insights, lang)
    retry = outcome.retry_after_s if isinstance(outcome, Throttled) else None
    html = render_office(
        "office/login.html",
        merchant=merchant,
        user=None,
        lang=lang,
        failed=isinstance(outcome, Refused),
        retry_after=retry,
        email=email,
    )
    if retry is not None:
        return HTMLResponse(html, status_code=429, headers={"Retry-After": str(retry)})
    return HTMLResponse(html, status_code=401)


async def _signed_in(outcome: SignedIn, insights: InsightsApp, lang: str | None) -> Response:
    user = outcome.user
    async with insights.pool.acquire() as connection:
        await office_users.record_audit(
            connection, user, "session.sign_in", str(user.user_id), at=insights.office.now()
        )
    base = f"/office/{user.merchant_id}"
    response = RedirectResponse(f"{base}/orders" + (f"?lang={lang}" if lang else ""), 303)
    policy = insights.office.policy
    response.set_cookie(
        COOKIE,
        outcome.session_id,
        max_age=int(policy.absolute.total_seconds()),
        path=base,
        httponly=True,
        samesite="lax",
        secure=policy.secure_cookies,
    )
    return response


async def logout(user: OfficeUser, form: CsrfForm, insights: InsightsApp) -> Response:
    await insights.office.sign_out(user)
    async with insights.pool.acquire() as connection:
        await office_users.record_audit(
            connection, user, "session.sign_out", str(user.user_id), at=insights.office.now()
        )
    base = f"/office/{user.merchant_id}"
    lang = form.get("lang")
    target = f"{base}/login" + (f"?lang={lang}" if lang in texts.LANGUAGES else "")
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE, path=base)
    return response


async def landing(user: OfficeUser, request: Request) -> Response:
    lang = _lang(request)
    target = f"/office/{user.merchant_id}/orders" + (f"?lang={lang}" if lang else "")
    return RedirectResponse(target, status_code=303)


async def office_dashboard(
    merchant: OfficeMerchant, user: OfficeUser, request: Request, insights: InsightsApp
) -> HTMLResponse:
    period, error = dashboard_period(request, merchant, insights)
    found = await insights.report(merchant, period)
    html = render_office_dashboard(
        merchant=merchant, user=user, report=found, lang=_lang(request), error=error
    )
    return HTMLResponse(html, status_code=400 if error else 200)


async def office_dashboard_csv(
    merchant: OfficeMerchant, user: OfficeUser, request: Request, insights: InsightsApp
) -> Response:
    period, error = dashboard_period(request, merchant, insights)
    if error is not None:
        raise HTTPException(status_code=400, detail=f"bad period: {error}")
    from relais_insights.handlers.routes import csv_response

    return csv_response(await insights.report(merchant, period))


class KeyView(BaseModel):
    """The API key a request was made with: its merchant, id and scopes."""

    merchant_id: str
    key_id: str
    scopes: list[str]


async def office_key(caller: ApiCaller) -> KeyView:
    return KeyView(
        merchant_id=caller.merchant_id, key_id=caller.key_id, scopes=sorted(caller.scopes)
    )


def add_office_routes(router: APIRouter) -> None:
    """The people-and-access routes of /office/<merchant>/ (the router must use OfficeRoute)."""
    from relais_insights.handlers import office_people

    base = "/office/{merchant_id}"
    html: dict[str, Any] = {"response_class": HTMLResponse, "include_in_schema": False}
    router.add_api_route(f"{base}/login", login_form, methods=["GET"], **html)
    router.add_api_route(f"{base}/login", login, methods=["POST"], **html)
    router.add_api_route(f"{base}/logout", logout, methods=["POST"], include_in_schema=False)
    router.add_api_route(base, landing, methods=["GET"], include_in_schema=False)
    router.add_api_route(f"{base}/dashboard", office_dashboard, methods=["GET"], **html)
    router.add_api_route(
        f"{base}/dashboard/export.csv",
        office_dashboard_csv,
        methods=["GET"],
        include_in_schema=False,
    )
    office_people.add_people_routes(router, base, html)
    router.add_api_route(
        "/v1/office/{merchant_id}/key",
        office_key,
        methods=["GET"],
        response_model=KeyView,
        tags=["back office"],
        summary="The calling key's merchant and scopes (needs the backoffice scope).",
    )
