"""The chat's consumers and HTTP routes (thin: decode, call the application, answer).

Consumers keep the chat's read model: the latest shipment state (compacted topic,
newest version wins), the carrier timeline, and the anomalies with their
resolution. A resolved anomaly ends its open conversation (ConversationAbandoned).
Milestones and escalations need nothing from the chat: surveys open from the
shipment state, and an escalated anomaly keeps its conversation.

Routes serve the customer's pages, chat `/c/{token}`, survey `/s/{token}` and
tracking `/t/{token}`: a GET shows the page, a POST answers it with a 303 redirect
back to it (or the page again with status 422 and the errors next to the fields).
The signed link is checked by a dependency: a bad or expired link gets status 403
and the merchant's contact when the merchant is known; a link to something the chat
does not know (yet) gets 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relais_chat import repository
from relais_chat.domain.access import Denied, Granted, Refusal
from relais_chat.service.conversations import abandon_for_resolution
from relais_chat.service.pages import (
    Answered,
    ConversationView,
    CustomerPages,
    SubjectUnknown,
)
from relais_chat.ui.assets import CACHE_CONTROL, assets
from relais_chat.ui.pages import render_conversation, render_denied, render_tracking
from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.topics import anomalies, shipment_state, tracking_events
from relais_contracts.topics.conversations import EntryPoint
from relais_runtime.clock import Clock
from relais_runtime.consumer import Handler, MessageContext, Subscription
from relais_runtime.failures import unexpected_event
from relais_runtime.links import LinkPurpose
from relais_runtime.merchants import MerchantConfig
from relais_runtime.metrics import CHAT_PAGES
from relais_runtime.routes import context_of, router_for

# Consumers


async def on_shipment_state(event: Event, context: MessageContext) -> None:
    match event:
        case shipment_state.ShipmentStateChanged():
            await repository.update_shipment(context.connection, state=event)
        case _:
            unexpected_event(event, where=shipment_state.TOPIC.name)


async def on_shipment_erased(key: bytes, context: MessageContext) -> None:
    """A tombstone on the shipment state erases the chat's copy of that shipment."""
    merchant_id, shipment_id = split_partition_key(key)
    await repository.delete_shipment(
        context.connection, merchant_id=merchant_id, shipment_id=shipment_id
    )


async def on_tracking_event(event: Event, context: MessageContext) -> None:
    match event:
        case tracking_events.TrackingEventRecorded():
            await repository.create_tracking_event(context.connection, event=event)
        case _:
            unexpected_event(event, where=tracking_events.TOPIC.name)


def anomaly_handler(clock: Clock) -> Handler:
    async def on_anomaly(event: Event, context: MessageContext) -> None:
        match event:
            case anomalies.AnomalyDetected():
                await repository.create_anomaly(context.connection, detected=event)
            case anomalies.AnomalyResolved():
                await repository.update_anomaly(
                    context.connection,
                    merchant_id=event.merchant_id,
                    anomaly_id=event.anomaly_id,
                    resolved_at=event.occurred_at,
                )
                await abandon_for_resolution(
                    context.connection,
                    merchant_id=event.merchant_id,
                    anomaly_id=event.anomaly_id,
                    now=clock.now(),
                )
            case anomalies.AnomalyEscalated() | anomalies.ShipmentMilestoneReached():
                return
            case _:
                unexpected_event(event, where=anomalies.TOPIC.name)

    return on_anomaly


def subscriptions(clock: Clock) -> Sequence[Subscription]:
    return (
        Subscription(
            shipment_state.TOPIC,
            "chat.shipment-state",
            on_shipment_state,
            on_tombstone=on_shipment_erased,
        ),
        Subscription(tracking_events.TOPIC, "chat.tracking-events", on_tracking_event),
        Subscription(anomalies.TOPIC, "chat.anomalies", anomaly_handler(clock)),
    )


# Routes

Pages = Annotated[CustomerPages, Depends(context_of(CustomerPages))]


def chat_link(token: str, pages: Pages) -> Granted | Denied:
    return pages.access(token, LinkPurpose.CHAT)


def survey_link(token: str, pages: Pages) -> Granted | Denied:
    return pages.access(token, LinkPurpose.SURVEY)


def tracking_link(token: str, pages: Pages) -> Granted | Denied:
    return pages.access(token, LinkPurpose.TRACKING)


def entry_point(request: Request) -> EntryPoint:
    """Links sent by SMS carry `?via=sms`; every other link came by email."""
    return (
        EntryPoint.SMS_LINK if request.query_params.get("via") == "sms" else EntryPoint.EMAIL_LINK
    )


async def answer_form(request: Request) -> dict[str, str]:
    """The POSTed fields; files are not answers and are left out."""
    data = await request.form()
    return {key: value for key, value in data.items() if isinstance(value, str)}


ChatLink = Annotated[Granted | Denied, Depends(chat_link)]
SurveyLink = Annotated[Granted | Denied, Depends(survey_link)]
TrackingLink = Annotated[Granted | Denied, Depends(tracking_link)]
Entry = Annotated[EntryPoint, Depends(entry_point)]
AnswerForm = Annotated[dict[str, str], Depends(answer_form)]


def build_router(pages: CustomerPages) -> APIRouter:
    router = router_for(pages, tags=["customer pages"])
    router.add_api_route(
        "/static/chat/{name}", static_file, methods=["GET"], include_in_schema=False
    )
    router.add_api_route("/c/{token}", chat_page, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/c/{token}", chat_answer, methods=["POST"], response_class=HTMLResponse)
    router.add_api_route("/s/{token}", survey_page, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/s/{token}", survey_answer, methods=["POST"], response_class=HTMLResponse)
    router.add_api_route("/t/{token}", tracking_page, methods=["GET"], response_class=HTMLResponse)
    return router


async def static_file(name: str) -> Response:
    asset = assets().get(name)
    if asset is None:
        return Response(status_code=404)
    return Response(
        asset.body,
        media_type=asset.media_type,
        headers={"Cache-Control": CACHE_CONTROL, "ETag": asset.etag},
    )


async def chat_page(request: Request, link: ChatLink, pages: Pages, entry: Entry) -> Response:
    return await conversation_page(request, link, pages, LinkPurpose.CHAT, None, entry)


async def chat_answer(
    request: Request, form: AnswerForm, link: ChatLink, pages: Pages, entry: Entry
) -> Response:
    return await conversation_page(request, link, pages, LinkPurpose.CHAT, form, entry)


async def survey_page(request: Request, link: SurveyLink, pages: Pages, entry: Entry) -> Response:
    return await conversation_page(request, link, pages, LinkPurpose.SURVEY, None, entry)


async def survey_answer(
    request: Request, form: AnswerForm, link: SurveyLink, pages: Pages, entry: Entry
) -> Response:
    return await conversation_page(request, link, pages, LinkPurpose.SURVEY, form, entry)


async def conversation_page(
    request: Request,
    link: Granted | Denied,
    pages: CustomerPages,
    purpose: LinkPurpose,
    form: dict[str, str] | None,
    entry: EntryPoint,
) -> Response:
    page = purpose.value
    if isinstance(link, Denied):
        return refused(page, link)
    shown = await pages.conversation(link, purpose=purpose, form=form, entry=entry)
    match shown:
        case SubjectUnknown():
            return not_found(page, shown.merchant)
        case Answered():
            CHAT_PAGES.labels(page=page, outcome="answered").inc()
            return RedirectResponse(str(request.url.path) + "#now", status_code=303)
        case ConversationView():
            CHAT_PAGES.labels(page=page, outcome="rejected" if shown.rejected else "shown").inc()
            status = 422 if shown.rejected else 200
            return HTMLResponse(render_conversation(shown), status_code=status)


async def tracking_page(link: TrackingLink, pages: Pages, entry: Entry) -> Response:
    page = LinkPurpose.TRACKING.value
    if isinstance(link, Denied):
        return refused(page, link)
    shown = await pages.tracking(link, entry=entry)
    if isinstance(shown, SubjectUnknown):
        return not_found(page, shown.merchant)
    CHAT_PAGES.labels(page=page, outcome="shown").inc()
    return HTMLResponse(render_tracking(shown))


def refused(page: str, denied: Denied) -> Response:
    CHAT_PAGES.labels(page=page, outcome=denied.reason.value).inc()
    return HTMLResponse(render_denied(denied), status_code=403)


def not_found(page: str, merchant: MerchantConfig) -> Response:
    CHAT_PAGES.labels(page=page, outcome="not_found").inc()
    denied = Denied(Refusal.INVALID, merchant)
    return HTMLResponse(render_denied(denied, not_found=True), status_code=404)
