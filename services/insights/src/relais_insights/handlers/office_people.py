"""HTTP: the admin's pages of the back office: users, their sessions, the audit log.

Rules: admins only (OfficeAdmin); every POST is CSRF-checked (CsrfForm) and audited with
ids and codes only; a user id of another merchant, or no user id at all, is 404; a
one-time password is shown once, in the answer to the POST that made it, never in a URL
or a log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from relais_insights import office_repository as store
from relais_insights.domain.office import Role
from relais_insights.handlers.access import InsightsApp
from relais_insights.handlers.office_access import (
    CsrfForm,
    OfficeAdmin,
    OfficeMerchant,
    back_after_form,
)
from relais_insights.service import office_users
from relais_insights.service.office_users import SignedInUser
from relais_insights.ui import texts
from relais_insights.ui.office import office_language, render_office
from relais_runtime.db import DbConnection
from relais_runtime.merchants import MerchantConfig

AUDIT_PAGE_SIZE = 50
AuditBefore = Annotated[int | None, Query(ge=1)]


def _user_id(user_id: str) -> UUID:
    try:
        return UUID(user_id)
    except ValueError:
        raise HTTPException(status_code=404, detail="no such user") from None


def _form_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _lang(request: Request, form: FormData | None = None) -> str | None:
    given = form.get("lang") if form is not None else request.query_params.get("lang")
    return given if given in texts.LANGUAGES else None


async def _users_page(
    request: Request,
    merchant: MerchantConfig,
    admin: SignedInUser,
    insights: InsightsApp,
    **values: Any,
) -> HTMLResponse:
    now = insights.office.now()
    async with insights.pool.acquire() as connection:
        users = await store.users_of(connection, merchant.merchant_id)
        sessions = {
            user.user_id: await store.open_sessions_of(
                connection, merchant.merchant_id, user.user_id, now
            )
            for user in users
        }
    form = values.pop("form", None)
    lang = office_language(_lang(request, form), admin, merchant)
    status = values.pop("status_code", 200)
    html = render_office(
        "office/users.html",
        merchant=merchant,
        user=admin,
        lang=lang,
        section="users",
        users=users,
        sessions=sessions,
        roles=list(Role),
        **values,
    )
    return HTMLResponse(html, status_code=status)


DONE_NOTICES = frozenset({"role_changed", "user_disabled_done", "sessions_revoked"})


async def users_page(
    request: Request, merchant: OfficeMerchant, admin: OfficeAdmin, insights: InsightsApp
) -> HTMLResponse:
    done = request.query_params.get("done")
    if done not in DONE_NOTICES:
        return await _users_page(request, merchant, admin, insights)
    lang = office_language(_lang(request), admin, merchant)
    notice = texts.say(lang, f"office_{done}", count="")
    return await _users_page(request, merchant, admin, insights, notice=notice)


def _new_user_problem(form: FormData) -> str | None:
    email = _form_value(form, "email")
    if "@" not in email or len(email) > 254:
        return "email"
    if not 0 < len(_form_value(form, "display_name")) <= 120:
        return "display_name"
    if _form_value(form, "role") not in set(Role):
        return "role"
    if _form_value(form, "language") not in texts.LANGUAGES:
        return "language"
    return None


async def add_user(
    request: Request,
    merchant: OfficeMerchant,
    admin: OfficeAdmin,
    form: CsrfForm,
    insights: InsightsApp,
) -> HTMLResponse:
    lang = office_language(_lang(request, form), admin, merchant)
    problem = _new_user_problem(form)
    if problem is not None:
        notice = texts.say(lang, "office_bad_field", field=problem)
        return await _users_page(
            request, merchant, admin, insights, form=form, notice=notice, status_code=400
        )
    password = office_users.new_password()
    office = insights.office
    async with insights.pool.acquire() as connection:
        user_id = await office_users.add_user(
            connection,
            office.policy.hasher,
            merchant_id=merchant.merchant_id,
            email=_form_value(form, "email"),
            display_name=_form_value(form, "display_name"),
            role=Role(_form_value(form, "role")),
            language=_form_value(form, "language"),
            password=password,
            at=office.now(),
        )
        if user_id is None:
            notice = texts.say(lang, "office_user_exists")
            return await _users_page(
                request, merchant, admin, insights, form=form, notice=notice, status_code=409
            )
        await office_users.record_audit(
            connection,
            admin,
            "user.add",
            str(user_id),
            {"role": _form_value(form, "role")},
            at=office.now(),
        )
    notice = texts.say(
        lang,
        "office_one_time_password",
        email=office_users.normalized_email(_form_value(form, "email")),
        password=password,
    )
    return await _users_page(request, merchant, admin, insights, form=form, notice=notice)


def _not_self(admin: SignedInUser, user_id: UUID) -> None:
    if admin.user_id == user_id:
        raise HTTPException(status_code=400, detail="an admin cannot do this to themselves here")


async def reset_password(
    user_id: str,
    request: Request,
    merchant: OfficeMerchant,
    admin: OfficeAdmin,
    form: CsrfForm,
    insights: InsightsApp,
) -> HTMLResponse:
    target = _user_id(user_id)
    password = office_users.new_password()
    office = insights.office
    async with insights.pool.acquire() as connection:
        found = await store.user_by_id(connection, merchant.merchant_id, target)
        done = found is not None and await office_users.reset_password(
            connection,
            office.policy.hasher,
            merchant_id=merchant.merchant_id,
            user_id=target,
            password=password,
            at=office.now(),
        )
        if found is None or not done:
            raise HTTPException(status_code=404, detail="no such user")
        await office_users.record_audit(
            connection, admin, "user.reset_password", str(target), at=office.now()
        )
    lang = office_language(_lang(request, form), admin, merchant)
    notice = texts.say(lang, "office_one_time_password", email=found.email or "", password=password)
    return await _users_page(request, merchant, admin, insights, form=form, notice=notice)


async def _set_role(
    connection: DbConnection, merchant_id: str, target: UUID, form: FormData, now: datetime
) -> Mapping[str, Any] | None:
    role = _form_value(form, "role")
    if role not in set(Role):
        raise HTTPException(status_code=400, detail="role: one of viewer, agent, admin")
    changed = await store.set_role(connection, merchant_id, target, Role(role))
    return {"role": role} if changed else None


async def _disable(
    connection: DbConnection, merchant_id: str, target: UUID, form: FormData, now: datetime
) -> Mapping[str, Any] | None:
    found = await office_users.disable_user(
        connection, merchant_id=merchant_id, user_id=target, at=now
    )
    return {} if found else None


async def _revoke_sessions(
    connection: DbConnection, merchant_id: str, target: UUID, form: FormData, now: datetime
) -> Mapping[str, Any] | None:
    if await store.user_by_id(connection, merchant_id, target) is None:
        return None
    return {"sessions": await store.revoke_sessions_of(connection, merchant_id, target, now)}


UserChange = Callable[
    [DbConnection, str, UUID, FormData, datetime], Awaitable[Mapping[str, Any] | None]
]


def _user_change_page(name: str, action: str, change: UserChange, done: str) -> Any:
    """The POST handler of an admin's change to another user of the merchant, never to
    themselves (400). `change` gives the audit details, or None for a user it did not
    find (404, nothing audited); then back to the users page saying `done`."""

    async def change_user(
        user_id: str,
        merchant: OfficeMerchant,
        admin: OfficeAdmin,
        form: CsrfForm,
        insights: InsightsApp,
    ) -> Response:
        target = _user_id(user_id)
        _not_self(admin, target)
        now = insights.office.now()
        async with insights.pool.acquire() as connection:
            details = await change(connection, merchant.merchant_id, target, form, now)
            if details is None:
                raise HTTPException(status_code=404, detail="no such user")
            await office_users.record_audit(connection, admin, action, str(target), details, at=now)
        return back_after_form(f"/office/{merchant.merchant_id}/users", form.get("lang"), done=done)

    change_user.__name__ = name
    return change_user


set_role = _user_change_page("set_role", "user.set_role", _set_role, "role_changed")
disable_user = _user_change_page("disable_user", "user.disable", _disable, "user_disabled_done")
revoke_sessions = _user_change_page(
    "revoke_sessions", "user.revoke_sessions", _revoke_sessions, "sessions_revoked"
)


async def audit_page(
    request: Request,
    merchant: OfficeMerchant,
    admin: OfficeAdmin,
    insights: InsightsApp,
    before: AuditBefore = None,
) -> HTMLResponse:
    async with insights.pool.acquire() as connection:
        rows = await store.audit_page(
            connection, merchant.merchant_id, before=before, limit=AUDIT_PAGE_SIZE + 1
        )
    older = rows[AUDIT_PAGE_SIZE - 1].audit_id if len(rows) > AUDIT_PAGE_SIZE else None
    html = render_office(
        "office/audit.html",
        merchant=merchant,
        user=admin,
        lang=_lang(request),
        section="audit",
        rows=rows[:AUDIT_PAGE_SIZE],
        older=older,
    )
    return HTMLResponse(html)


def add_people_routes(router: APIRouter, base: str, html: dict[str, Any]) -> None:
    router.add_api_route(f"{base}/users", users_page, methods=["GET"], **html)
    router.add_api_route(f"{base}/users", add_user, methods=["POST"], **html)
    one = f"{base}/users/{{user_id}}"
    router.add_api_route(f"{one}/role", set_role, methods=["POST"], **html)
    router.add_api_route(f"{one}/password", reset_password, methods=["POST"], **html)
    router.add_api_route(f"{one}/disable", disable_user, methods=["POST"], **html)
    router.add_api_route(f"{one}/sessions/revoke", revoke_sessions, methods=["POST"], **html)
    router.add_api_route(f"{base}/audit", audit_page, methods=["GET"], **html)
