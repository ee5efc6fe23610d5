"""HTTP: campaigns (pages and API): select shipments, choose the content, preview, send.

Rules:
- any signed-in user reads the campaigns and their progress; previewing and sending
  (CSRF-checked POST forms) and resending one message are for agents and admins;
- the selection comes from the orders list: its filters (`?status=...` on
  /campaigns/new, carried on as `f_<filter>` fields) or ids ticked one by one
  (`shipment_id`, repeated); a bad field is refused naming it (the page: 400 with the
  reason; the API: 422) and nothing is published;
- the API (`POST /v1/office/<m>/campaigns`, `GET /v1/office/<m>/campaigns/<id>`) needs
  a key with the `backoffice` scope; a campaign of another merchant is 404.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData

from relais_contracts.topics.notification_commands import (
    AnomalyScenarioContent,
    BroadcastContent,
    BroadcastText,
    CampaignContent,
)
from relais_insights.adapters.notifier_preview import render_preview
from relais_insights.domain.campaigns import Campaign, CampaignSelection
from relais_insights.handlers.access import InsightsApp
from relais_insights.handlers.office_access import (
    ApiCaller,
    CsrfForm,
    OfficeAgent,
    OfficeMerchant,
    OfficeUser,
    back_after_form,
)
from relais_insights.handlers.office_orders import add_office_api_route
from relais_insights.service.campaigns import Campaigns, Sender
from relais_insights.ui import texts
from relais_insights.ui.office import office_language
from relais_insights.ui.office_campaigns import (
    FILTER_PREFIX,
    Draft,
    render_campaign,
    render_campaigns,
    render_new_campaign,
)
from relais_runtime.merchants import MerchantConfig

NOT_FILTERS = frozenset({"lang", "cursor", "limit", "shipment_id", "csrf_token"})


def campaigns_of(insights: InsightsApp) -> Campaigns:
    return Campaigns(pool=insights.pool)


CampaignsDep = Annotated[Campaigns, Depends(campaigns_of)]


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    selection: CampaignSelection
    content: CampaignContent


class CampaignOut(BaseModel):
    campaign_id: UUID
    name: str
    content: str
    created_at: datetime
    requested: int
    sent: int
    deferred: int
    suppressed: int
    failed: int
    reasons: dict[str, int] = Field(description='"<outcome>:<reason>" -> messages.')

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        progress = campaign.progress
        return cls(
            campaign_id=campaign.campaign_id,
            name=campaign.name,
            content=campaign.content.kind,
            created_at=campaign.created_at,
            requested=campaign.requested,
            sent=progress.sent,
            deferred=progress.deferred,
            suppressed=progress.suppressed,
            failed=progress.failed,
            reasons=progress.reasons,
        )


class Refused(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _first_error(error: ValidationError, prefix: str = "") -> Refused:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "selection"
    return Refused(prefix + field, first["msg"])


def selection_of(items: list[tuple[str, str]], *, prefix: str = "") -> CampaignSelection:
    """From query or form fields: ticked ids if any, else the filters (prefixed on forms)."""
    ids = tuple(value for key, value in items if key == "shipment_id" and value)
    try:
        if ids:
            return CampaignSelection(shipment_ids=ids)
        filters = {
            key.removeprefix(prefix): value
            for key, value in items
            if key.startswith(prefix) and key.removeprefix(prefix) not in NOT_FILTERS and value
        }
        return CampaignSelection(filters=filters)
    except ValidationError as error:
        raise _first_error(error) from None


def _text(form: FormData, name: str) -> str:
    """Trimmed; a browser's CRLF line breaks (HTML forms) become LF, as the contract wants."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _form_selection(form: FormData) -> CampaignSelection:
    return selection_of(list(form.multi_items()), prefix=FILTER_PREFIX)  # type: ignore[arg-type]


def _as_typed(form: FormData, merchant: MerchantConfig, selection: CampaignSelection) -> Draft:
    """The form's fields as typed: a (subject, body) pair per locale, blank ones too."""
    return Draft(
        selection=selection,
        name=_text(form, "name"),
        content_kind=_text(form, "content") or "anomaly_scenario",
        texts={
            locale: (_text(form, f"subject_{locale}"), _text(form, f"body_{locale}"))
            for locale in merchant.locales
        },
        chat_scenario_id=_text(form, "chat_scenario_id"),
    )


def draft_of(form: FormData, merchant: MerchantConfig) -> tuple[Draft, CampaignContent]:
    """The form's campaign (locales left blank dropped); Refused names the first bad field."""
    typed = _as_typed(form, merchant, _form_selection(form))
    draft = replace(
        typed, texts={locale: pair for locale, pair in typed.texts.items() if any(pair)}
    )
    if not draft.name:
        raise Refused("name", "a name is required")
    if draft.content_kind == "anomaly_scenario":
        return draft, AnomalyScenarioContent()
    if draft.content_kind != "broadcast":
        raise Refused("content", "choose the anomaly's scenario or a broadcast")
    try:
        content = BroadcastContent(
            texts=tuple(
                BroadcastText(locale=locale, subject=subject, body=body)
                for locale, (subject, body) in draft.texts.items()
            ),
            chat_scenario_id=draft.chat_scenario_id or None,
        )
    except ValidationError as error:
        raise _first_error(error) from None
    return draft, content


def _refusal_text(language: str, refused: Refused) -> str:
    return texts.say(language, "orders_bad_filter", field=refused.field, reason=str(refused))


async def campaigns_page(
    merchant: OfficeMerchant, user: OfficeUser, request: Request, campaigns: CampaignsDep
) -> HTMLResponse:
    found = await campaigns.campaigns(merchant_id=merchant.merchant_id)
    lang = request.query_params.get("lang")
    return HTMLResponse(render_campaigns(merchant=merchant, user=user, lang=lang, campaigns=found))


async def new_campaign_page(
    merchant: OfficeMerchant, user: OfficeAgent, request: Request, campaigns: CampaignsDep
) -> HTMLResponse:
    lang = request.query_params.get("lang")
    try:
        selection = selection_of(list(request.query_params.multi_items()))
    except Refused as refused:
        language = office_language(lang, user, merchant)
        draft = Draft(selection=CampaignSelection(filters={}))
        html = render_new_campaign(
            merchant=merchant,
            user=user,
            lang=lang,
            draft=draft,
            count=0,
            error=_refusal_text(language, refused),
        )
        return HTMLResponse(html, status_code=400)
    count = await campaigns.count(merchant, selection)
    draft = Draft(selection=selection)
    html = render_new_campaign(merchant=merchant, user=user, lang=lang, draft=draft, count=count)
    return HTMLResponse(html)


async def preview_page(
    merchant: OfficeMerchant,
    user: OfficeAgent,
    form: CsrfForm,
    campaigns: CampaignsDep,
    insights: InsightsApp,
) -> HTMLResponse:
    lang = _text(form, "lang") or None
    try:
        draft, content = draft_of(form, merchant)
    except Refused as refused:
        return await _form_refused(merchant, user, form, lang, refused, campaigns)
    count = await campaigns.count(merchant, draft.selection)
    sample = await campaigns.first_target(merchant, draft.selection)
    rendered = None
    if sample is not None:
        rendered = await render_preview(
            insights.configuration.notifier_url,
            merchant_id=merchant.merchant_id,
            shipment_id=sample.shipment_id,
            content=content,
        )
    html = render_new_campaign(
        merchant=merchant,
        user=user,
        lang=lang,
        draft=draft,
        count=count,
        preview=content,
        sample=sample,
        rendered=rendered,
    )
    return HTMLResponse(html)


async def _form_refused(
    merchant: MerchantConfig,
    user: Any,
    form: FormData,
    lang: str | None,
    refused: Refused,
    campaigns: Campaigns,
) -> HTMLResponse:
    language = office_language(lang, user, merchant)
    try:
        selection = _form_selection(form)
        count = await campaigns.count(merchant, selection)
    except Refused:
        selection, count = CampaignSelection(filters={}), 0
    html = render_new_campaign(
        merchant=merchant,
        user=user,
        lang=lang,
        draft=_as_typed(form, merchant, selection),
        count=count,
        error=_refusal_text(language, refused),
    )
    return HTMLResponse(html, status_code=400)


async def send_campaign(
    merchant: OfficeMerchant,
    user: OfficeAgent,
    form: CsrfForm,
    campaigns: CampaignsDep,
    insights: InsightsApp,
) -> Response:
    lang = _text(form, "lang") or None
    try:
        draft, content = draft_of(form, merchant)
    except Refused as refused:
        return await _form_refused(merchant, user, form, lang, refused, campaigns)
    campaign = await campaigns.send(
        merchant,
        name=draft.name,
        selection=draft.selection,
        content=content,
        sender=Sender(user=user),
        now=insights.configuration.clock.now(),
    )
    return back_after_form(f"/office/{merchant.merchant_id}/campaigns/{campaign.campaign_id}", lang)


async def campaign_page(
    campaign_id: UUID,
    merchant: OfficeMerchant,
    user: OfficeUser,
    request: Request,
    campaigns: CampaignsDep,
) -> HTMLResponse:
    found = await campaigns.campaign(merchant_id=merchant.merchant_id, campaign_id=campaign_id)
    if found is None:
        raise HTTPException(status_code=404, detail="not found")
    lang = request.query_params.get("lang")
    return HTMLResponse(render_campaign(merchant=merchant, user=user, lang=lang, campaign=found))


async def resend_message(
    notification_id: UUID,
    merchant: OfficeMerchant,
    user: OfficeAgent,
    form: CsrfForm,
    campaigns: CampaignsDep,
    insights: InsightsApp,
) -> Response:
    """Ask the notifier to send one earlier message again; back to the order page."""
    shipment_id = _text(form, "shipment_id")
    order_number = _text(form, "order_number")
    done = await campaigns.resend(
        user,
        shipment_id=shipment_id,
        notification_id=notification_id,
        now=insights.configuration.clock.now(),
    )
    if not done:
        raise HTTPException(status_code=404, detail="not found")
    target = f"/office/{merchant.merchant_id}/orders/{order_number}?resent={notification_id}"
    return RedirectResponse(target, status_code=303)


async def api_create_campaign(
    body: CampaignIn,
    caller: ApiCaller,
    merchant: OfficeMerchant,
    campaigns: CampaignsDep,
    insights: InsightsApp,
) -> CampaignOut:
    """Send a campaign: one message per selected shipment, through the notifier's rules."""
    campaign = await campaigns.send(
        merchant,
        name=body.name,
        selection=body.selection,
        content=body.content,
        sender=Sender(key_id=caller.key_id),
        now=insights.configuration.clock.now(),
    )
    return CampaignOut.of(campaign)


async def api_campaign(
    campaign_id: UUID, caller: ApiCaller, merchant: OfficeMerchant, campaigns: CampaignsDep
) -> CampaignOut:
    """A campaign and its progress (messages per outcome, and per reason)."""
    found = await campaigns.campaign(merchant_id=merchant.merchant_id, campaign_id=campaign_id)
    if found is None:
        raise HTTPException(status_code=404, detail="not found")
    return CampaignOut.of(found)


def add_campaign_routes(router: APIRouter) -> None:
    """The campaign pages, the resend form and the API, on the insights router."""
    base = "/office/{merchant_id}"
    html: dict[str, Any] = {"response_class": HTMLResponse, "include_in_schema": False}
    router.add_api_route(f"{base}/campaigns", campaigns_page, methods=["GET"], **html)
    router.add_api_route(f"{base}/campaigns/new", new_campaign_page, methods=["GET"], **html)
    router.add_api_route(f"{base}/campaigns/preview", preview_page, methods=["POST"], **html)
    router.add_api_route(
        f"{base}/campaigns", send_campaign, methods=["POST"], include_in_schema=False
    )
    router.add_api_route(
        f"{base}/campaigns/{{campaign_id}}", campaign_page, methods=["GET"], **html
    )
    router.add_api_route(
        f"{base}/messages/{{notification_id}}/resend",
        resend_message,
        methods=["POST"],
        include_in_schema=False,
    )
    add_office_api_route(
        router,
        "/campaigns",
        api_create_campaign,
        method="POST",
        response_model=CampaignOut,
        status_code=201,
    )
    add_office_api_route(
        router, "/campaigns/{campaign_id}", api_campaign, method="GET", response_model=CampaignOut
    )
