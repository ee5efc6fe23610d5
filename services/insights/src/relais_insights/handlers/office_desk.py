"""HTTP: the level-2 desk, as pages and as a typed API.

Rules:
- pages (/office/<merchant>/desk...) need a signed-in user of that merchant: any role
  reads, an agent or an admin acts (OfficeAgent); every POST goes through CsrfForm and
  redirects back to the case (303);
- the API (/v1/office/<merchant>/desk...) needs a bearer key with the `backoffice`
  scope; an action through the API is audited with no user and the key's id (never the
  key), an answer signed with `agent_name` or else the merchant's name; each returns
  the case as it is afterwards;
- a case of another merchant, or unknown, is 404 `not found`; bad input is refused
  naming the field (API: 422; pages: the case page with the reason, 400), nothing is
  written or published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData

from relais_contracts.text import MultiLine, SingleLine
from relais_insights import office_repository
from relais_insights.domain.desk import CaseKind, CaseStatus, DeskCase
from relais_insights.domain.office import Role
from relais_insights.handlers.access import InsightsApp
from relais_insights.handlers.office_access import (
    ApiCaller,
    ApiClient,
    CsrfForm,
    OfficeAgent,
    OfficeMerchant,
    OfficeUser,
    back_after_form,
)
from relais_insights.handlers.office_orders import Orders, add_office_api_route
from relais_insights.service.desk import Desk, DeskActor, QueueFilter
from relais_insights.service.office_users import SignedInUser
from relais_insights.ui import texts
from relais_insights.ui.office import office_language
from relais_insights.ui.office_desk import render_case, render_desk


def desk_of(insights: InsightsApp) -> Desk:
    return Desk(pool=insights.pool)


DeskApp = Annotated[Desk, Depends(desk_of)]


class TextIn(BaseModel):
    text: MultiLine = Field(min_length=1, max_length=4000)


class StatusIn(BaseModel):
    status: CaseStatus


class AssignIn(BaseModel):
    assignee: UUID | None = Field(description="An office user of the merchant; null: nobody.")


class AnswerIn(TextIn):
    agent_name: SingleLine | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="How the answer is signed to the customer; default: the merchant's name.",
    )


class TranscriptLineOut(BaseModel):
    at: datetime
    speaker: Literal["bot", "customer", "agent"]
    text: str


class WritingOut(BaseModel):
    id: UUID
    author_id: UUID | None
    author_name: str | None
    at: datetime
    text: str


class CaseOut(BaseModel):
    case_id: UUID
    kind: CaseKind
    status: CaseStatus
    shipment_id: str
    order_id: str
    order_number: str | None
    anomaly_id: UUID | None
    anomaly_type: str | None
    phone: str | None
    slot_start: datetime | None
    slot_end: datetime | None
    due_at: datetime
    time_left_s: int
    assignee: UUID | None
    opened_at: datetime
    transcript: list[TranscriptLineOut]
    notes: list[WritingOut]
    answers: list[WritingOut]

    @classmethod
    def of(cls, case: DeskCase, now: datetime) -> CaseOut:
        values = {name: getattr(case, name, None) for name in cls.model_fields}
        writings = {
            key: [
                WritingOut(
                    id=w.note_id,
                    author_id=w.author_id,
                    author_name=w.author_name,
                    at=w.at,
                    text=w.text,
                )
                for w in getattr(case, key)
            ]
            for key in ("notes", "answers")
        }
        values.update(
            writings,
            transcript=list(case.transcript),
            time_left_s=int(case.time_left(now).total_seconds()),
        )
        return cls.model_validate(values)


class QueueOut(BaseModel):
    cases: list[CaseOut]


async def _agents(insights: InsightsApp, merchant_id: str) -> list[tuple[str, str]]:
    async with insights.pool.acquire() as connection:
        users = await office_repository.users_of(connection, merchant_id)
    return [
        (str(u.user_id), u.display_name)
        for u in users
        if u.disabled_at is None and u.erased_at is None and u.role.allows(Role.AGENT)
    ]


def _queue_filter(status: str | None, assignee: str | None) -> QueueFilter:
    """Raises ValueError naming the field."""
    try:
        chosen = CaseStatus(status) if status else None
    except ValueError:
        raise ValueError("status") from None
    if assignee == "none":
        return QueueFilter(status=chosen, unassigned=True)
    try:
        return QueueFilter(status=chosen, assignee=UUID(assignee) if assignee else None)
    except ValueError:
        raise ValueError("assignee") from None


async def desk_page(
    merchant: OfficeMerchant,
    user: OfficeUser,
    request: Request,
    insights: InsightsApp,
    desk: DeskApp,
) -> HTMLResponse:
    params = request.query_params
    try:
        shown = _queue_filter(params.get("status"), params.get("assignee"))
    except ValueError:
        shown = QueueFilter()
    cases = await desk.queue(merchant_id=merchant.merchant_id, shown=shown)
    html = render_desk(
        merchant=merchant,
        user=user,
        lang=params.get("lang"),
        cases=cases,
        shown_filter=shown,
        agents=await _agents(insights, merchant.merchant_id),
        now=insights.office.now(),
    )
    return HTMLResponse(html)


async def _case_page(
    case_id: UUID,
    merchant: OfficeMerchant,
    user: SignedInUser,
    lang: str | None,
    insights: InsightsApp,
    orders: Orders,
    desk: Desk,
    error: str | None = None,
) -> HTMLResponse:
    case = await desk.case(merchant_id=merchant.merchant_id, case_id=case_id)
    if case is None:
        raise HTTPException(status_code=404, detail="not found")
    order = None
    if case.order_number:
        order = await orders.order(merchant_id=merchant.merchant_id, order_number=case.order_number)
    html = render_case(
        merchant=merchant,
        user=user,
        lang=lang,
        case=case,
        order=order,
        agents=await _agents(insights, merchant.merchant_id),
        now=insights.office.now(),
        error=error,
    )
    return HTMLResponse(html, status_code=400 if error else 200)


async def case_page(
    case_id: UUID,
    merchant: OfficeMerchant,
    user: OfficeUser,
    request: Request,
    insights: InsightsApp,
    orders: Orders,
    desk: DeskApp,
) -> HTMLResponse:
    lang = request.query_params.get("lang")
    return await _case_page(case_id, merchant, user, lang, insights, orders, desk)


def _form_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _act(
    kind: str,
    case_id: UUID,
    user: SignedInUser,
    form: FormData,
    insights: InsightsApp,
    desk: Desk,
) -> bool:
    """Raises ValidationError (or ValueError naming the field) on bad input."""
    now = insights.office.now()
    actor = DeskActor.of_user(user)
    if kind == "assign":
        raw = _form_value(form, "assignee")
        assignee = AssignIn(assignee=UUID(raw) if raw else None).assignee
        if assignee is not None and str(assignee) not in dict(
            await _agents(insights, user.merchant_id)
        ):
            raise ValueError("assignee")
        return await desk.assign(actor, case_id, assignee, at=now)
    if kind == "status":
        status = StatusIn.model_validate({"status": _form_value(form, "status")}).status
        return await desk.set_status(actor, case_id, status, at=now)
    text = TextIn.model_validate({"text": _form_value(form, "text").replace("\r\n", "\n")})
    return await desk.write(actor, case_id, text.text, answer=kind == "answer", at=now)


def _action_page(kind: str) -> Any:
    async def act(
        case_id: UUID,
        merchant: OfficeMerchant,
        user: OfficeAgent,
        form: CsrfForm,
        insights: InsightsApp,
        orders: Orders,
        desk: DeskApp,
    ) -> Response:
        try:
            done = await _act(kind, case_id, user, form, insights, desk)
        except (ValidationError, ValueError) as error:
            field = _bad_field(error, kind)
            language = office_language(_form_value(form, "lang"), user, merchant)
            reason = texts.say(language, "desk_bad_input", field=field)
            lang = _form_value(form, "lang") or None
            return await _case_page(case_id, merchant, user, lang, insights, orders, desk, reason)
        if not done:
            raise HTTPException(status_code=404, detail="not found")
        path = f"/office/{merchant.merchant_id}/desk/{case_id}"
        return back_after_form(path, _form_value(form, "lang"))

    act.__name__ = f"desk_{kind}"
    return act


def _bad_field(error: ValidationError | ValueError, kind: str) -> str:
    if isinstance(error, ValidationError):
        return ".".join(str(part) for part in error.errors()[0]["loc"]) or kind
    named = str(error)
    return named if named in ("status", "assignee", "text") else "assignee"


async def api_queue(
    caller: ApiCaller,
    merchant: OfficeMerchant,
    insights: InsightsApp,
    desk: DeskApp,
    status: CaseStatus | None = None,
    assignee: UUID | None = None,
) -> QueueOut:
    """The desk's queue, oldest case first (at most 200)."""
    cases = await desk.queue(
        merchant_id=merchant.merchant_id, shown=QueueFilter(status=status, assignee=assignee)
    )
    now = insights.office.now()
    return QueueOut(cases=[CaseOut.of(case, now) for case in cases])


async def api_case(
    case_id: UUID,
    caller: ApiCaller,
    merchant: OfficeMerchant,
    insights: InsightsApp,
    desk: DeskApp,
) -> CaseOut:
    """One case with its transcript, notes and answers."""
    return await _case_out(desk, insights, merchant.merchant_id, case_id)


async def _case_out(
    desk: Desk, insights: InsightsApp, merchant_id: str, case_id: UUID, *, acted: bool = True
) -> CaseOut:
    """The case as it is now; 404 when it is not the merchant's, or the action (`acted`
    False) found no such case."""
    case = await desk.case(merchant_id=merchant_id, case_id=case_id) if acted else None
    if case is None:
        raise HTTPException(status_code=404, detail="not found")
    return CaseOut.of(case, insights.office.now())


def _key_actor(caller: ApiClient, merchant: OfficeMerchant, name: str | None = None) -> DeskActor:
    return DeskActor(
        merchant_id=merchant.merchant_id,
        name=name or merchant.branding.display_name,
        key_id=caller.key_id,
    )


def _refused(field: str, message: str) -> HTTPException:
    detail = [{"loc": ["body", field], "msg": message, "type": "value_error"}]
    return HTTPException(status_code=422, detail=detail)


async def api_assign(
    case_id: UUID,
    body: AssignIn,
    caller: ApiCaller,
    merchant: OfficeMerchant,
    insights: InsightsApp,
    desk: DeskApp,
) -> CaseOut:
    """Assign the case to an agent or admin of the merchant (null: nobody)."""
    agents = dict(await _agents(insights, merchant.merchant_id))
    if body.assignee is not None and str(body.assignee) not in agents:
        raise _refused("assignee", "not an agent of this merchant")
    actor = _key_actor(caller, merchant)
    acted = await desk.assign(actor, case_id, body.assignee, at=insights.office.now())
    return await _case_out(desk, insights, merchant.merchant_id, case_id, acted=acted)


async def api_status(
    case_id: UUID,
    body: StatusIn,
    caller: ApiCaller,
    merchant: OfficeMerchant,
    insights: InsightsApp,
    desk: DeskApp,
) -> CaseOut:
    """Set the case's status; `done` sends the customer the survey (once per case)."""
    actor = _key_actor(caller, merchant)
    acted = await desk.set_status(actor, case_id, body.status, at=insights.office.now())
    return await _case_out(desk, insights, merchant.merchant_id, case_id, acted=acted)


async def api_note(
    case_id: UUID,
    body: TextIn,
    caller: ApiCaller,
    merchant: OfficeMerchant,
    insights: InsightsApp,
    desk: DeskApp,
) -> CaseOut:
    """Add an internal note (never shown to the customer)."""
    actor = _key_actor(caller, merchant)
    acted = await desk.write(actor, case_id, body.text, answer=False, at=insights.office.now())
    return await _case_out(desk, insights, merchant.merchant_id, case_id, acted=acted)


async def api_answer(
    case_id: UUID,
    body: AnswerIn,
    caller: ApiCaller,
    merchant: OfficeMerchant,
    insights: InsightsApp,
    desk: DeskApp,
) -> CaseOut:
    """Answer the customer: shown on their chat page, and they get an email saying so."""
    actor = _key_actor(caller, merchant, body.agent_name)
    acted = await desk.write(actor, case_id, body.text, answer=True, at=insights.office.now())
    return await _case_out(desk, insights, merchant.merchant_id, case_id, acted=acted)


def add_desk_routes(router: APIRouter) -> None:
    """The desk's pages and API, on the insights router (its OfficeRoute class)."""
    base = "/office/{merchant_id}/desk"
    html: dict[str, Any] = {"response_class": HTMLResponse, "include_in_schema": False}
    router.add_api_route(base, desk_page, methods=["GET"], **html)
    router.add_api_route(f"{base}/{{case_id}}", case_page, methods=["GET"], **html)
    for kind, path in (
        ("assign", "assign"),
        ("status", "status"),
        ("note", "notes"),
        ("answer", "answer"),
    ):
        router.add_api_route(
            f"{base}/{{case_id}}/{path}",
            _action_page(kind),
            methods=["POST"],
            include_in_schema=False,
        )
    add_office_api_route(router, "/desk", api_queue, method="GET", response_model=QueueOut)
    add_office_api_route(router, "/desk/{case_id}", api_case, method="GET", response_model=CaseOut)
    for path, action in (
        ("assign", api_assign),
        ("status", api_status),
        ("notes", api_note),
        ("answer", api_answer),
    ):
        add_office_api_route(
            router, f"/desk/{{case_id}}/{path}", action, method="POST", response_model=CaseOut
        )
