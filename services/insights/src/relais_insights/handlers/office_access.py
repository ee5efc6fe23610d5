"""Who is asking in the back office, and may they: the FastAPI dependencies of the office.

Rules:
- pages under /office/<merchant>/ take the session cookie `relais_office` (a random id;
  the database holds its SHA-256): no or an expired or revoked session redirects to the
  merchant's sign-in page (303), an unknown merchant is 404;
- tenant isolation is uniform: a session or an API key of another merchant gets 404
  ("nothing here for you") on every office page and office API route, before any
  data is read, whatever the route; a role below the route's is 403;
- every state-changing form carries `csrf_token`, the session's token (domain.office):
  missing or wrong is 403 with a page saying so, before the route runs;
- the office API (/v1/office/<merchant>/...) takes `Authorization: Bearer <key>`: no or
  an unknown key is 401, a key of another merchant 404, a key without the route's
  scope 403 naming the scope.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from relais_insights.domain.office import Role, csrf_matches
from relais_insights.handlers.access import Authorization, InsightsApp
from relais_insights.service.office_users import SignedInUser
from relais_insights.ui import texts
from relais_runtime.api_keys import KeyHolder
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.tracking import ApiScope

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "PUBLIC_OFFICE_ROUTES",
    "ApiCaller",
    "ApiScope",
    "CsrfForm",
    "CsrfRefused",
    "NotSignedIn",
    "OfficeAdmin",
    "OfficeAgent",
    "OfficeMerchant",
    "OfficeUser",
    "Role",
    "SignedInUser",
    "back_after_form",
    "require_role",
    "require_scope",
]

COOKIE = "relais_office"
CSRF_FIELD = "csrf_token"
PUBLIC_OFFICE_ROUTES = frozenset(
    {("GET", "/office/{merchant_id}/login"), ("POST", "/office/{merchant_id}/login")}
)
"""(method, path) of the office routes open without a session: the isolation test skips them."""


class NotSignedIn(HTTPException):
    """No valid session: office pages redirect to the sign-in page."""

    def __init__(self, merchant_id: str, request: Request) -> None:
        lang = request.query_params.get("lang")
        target = f"/office/{merchant_id}/login" + (f"?lang={lang}" if lang in ("fr", "en") else "")
        super().__init__(status_code=303, detail="sign in first", headers={"Location": target})


class CsrfRefused(HTTPException):
    """A state-changing form without the session's CSRF token (shown as a page)."""

    def __init__(self) -> None:
        super().__init__(status_code=403, detail="csrf")


class NotYours(HTTPException):
    """The uniform answer to anything of another merchant, or of no merchant."""

    def __init__(self) -> None:
        super().__init__(status_code=404, detail="not found")


def office_merchant(merchant_id: str, insights: InsightsApp) -> MerchantConfig:
    merchant = insights.merchant(merchant_id)
    if merchant is None:
        raise NotYours
    return merchant


OfficeMerchant = Annotated[MerchantConfig, Depends(office_merchant)]


async def signed_in_user(
    request: Request, merchant: OfficeMerchant, insights: InsightsApp
) -> SignedInUser:
    session_id = request.cookies.get(COOKIE, "")
    user = await insights.office.session_user(session_id) if session_id else None
    if user is None:
        raise NotSignedIn(merchant.merchant_id, request)
    if user.merchant_id != merchant.merchant_id:
        raise NotYours
    return user


OfficeUser = Annotated[SignedInUser, Depends(signed_in_user)]


def require_role(needed: Role) -> Callable[[SignedInUser], SignedInUser]:
    """A dependency giving the signed-in user when their role allows `needed`, else 403."""

    def with_role(user: OfficeUser) -> SignedInUser:
        if not user.role.allows(needed):
            raise HTTPException(status_code=403, detail=f"this needs the {needed} role")
        return user

    with_role.__name__ = f"require_{needed}"
    return with_role


OfficeAgent = Annotated[SignedInUser, Depends(require_role(Role.AGENT))]
OfficeAdmin = Annotated[SignedInUser, Depends(require_role(Role.ADMIN))]


async def csrf_checked_form(request: Request, user: OfficeUser) -> FormData:
    """The request's form once its CSRF token is the session's (else 403)."""
    form = await request.form()
    if not csrf_matches(user.csrf_token, form.get(CSRF_FIELD)):
        raise CsrfRefused
    return form


CsrfForm = Annotated[FormData, Depends(csrf_checked_form)]


def back_after_form(path: str, lang: object, **query: str) -> RedirectResponse:
    """303 to `path` once a form's POST is done, with `query` and the form's language when
    the office speaks it (anything else is dropped, never echoed into the URL)."""
    if lang in texts.LANGUAGES:
        query["lang"] = str(lang)
    asked = "&".join(f"{name}={value}" for name, value in query.items())
    return RedirectResponse(f"{path}?{asked}" if asked else path, status_code=303)


@dataclass(frozen=True)
class ApiClient:
    merchant_id: str
    key_id: str
    scopes: frozenset[ApiScope]


def require_scope(
    scope: ApiScope | str,
) -> Callable[..., Coroutine[Any, Any, ApiClient]]:
    """A dependency giving the API caller when its key has `scope` for the path's merchant."""
    needed = ApiScope(scope)

    async def with_scope(
        merchant_id: str, insights: InsightsApp, authorization: Authorization = None
    ) -> ApiClient:
        holder: KeyHolder | None = insights.configuration.keys.holder_of_header(authorization)
        if holder is None:
            raise HTTPException(
                status_code=401,
                detail="missing or invalid API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if holder.merchant_id != merchant_id or insights.merchant(merchant_id) is None:
            raise NotYours
        if needed not in holder.scopes:
            raise HTTPException(status_code=403, detail=f"this key lacks the {needed} scope")
        return ApiClient(merchant_id=merchant_id, key_id=holder.key_id, scopes=holder.scopes)

    with_scope.__name__ = f"require_scope_{needed}"
    return with_scope


ApiCaller = Annotated[ApiClient, Depends(require_scope(ApiScope.BACKOFFICE))]
