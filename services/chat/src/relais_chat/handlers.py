"""The chat's consumers and HTTP routes (thin: decode, call the application, answer).

Consumers keep the chat's read model: the latest shipment state (compacted topic,
newest version wins), the carrier timeline, and the anomalies with their
resolution. A resolved anomaly ends its open conversation (ConversationAbandoned).
Milestones and escalations need nothing from the chat: surveys open from the
shipment state, and an escalated anomaly keeps its conversation.

Routes serve the customer's pages, chat `/c/{token}`, survey `/s/{token}` and
tracking `/t/{token}` (and its calendar file `/t/{token}/calendar.ics`): a GET shows
the page, a POST answers it with a 303 redirect back to it (or the page again with
status 422 and the errors next to the fields). The signed link is checked by a
dependency: a bad or expired link gets status 403 and the merchant's contact when the
merchant is known; a link to something the chat does not know (yet) gets 404.

The lookup page `/track/{merchant_id}` needs no link: a POST with an order number and
its email or postal code redirects to a freshly signed tracking link (or lists the
parcels of the order); a wrong order and a wrong email or postal code get the same
404 page; too many attempts get 429 with Retry-After (service.lookup).

Every response carries the security headers (relais_chat.headers): the lookup and
tracking pages may be framed by the merchant's `tracking.page.frame_ancestors`,
nothing else may be framed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relais_chat import desk_repository, repository
from relais_chat.domain.access import Denied, Granted, Refusal
from relais_chat.headers import SecuredRoute, security_headers
from relais_chat.service.conversations import abandon_for_resolution
from relais_chat.service.lookup import Matched, NoMatch, Refused, Throttled
from relais_chat.service.pages import (
    Answered,
    ConversationView,
    CustomerPages,
    SubjectUnknown,
)
from relais_chat.ui import presentation, words
from relais_chat.ui.assets import CACHE_CONTROL, assets
from relais_chat.ui.pages import (
    LookupPage,
    render_conversation,
    render_denied,
    render_lookup,
    render_tracking,
)
from relais_chat.ui.tracking import calendar_file, calendar_filename
from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.topics import anomalies, desk_replies, shipment_state, tracking_events
from relais_contracts.topics.conversations import EntryPoint
from relais_runtime.clock import Clock
from relais_runtime.consumer import Handler, MessageContext, Subscription
from relais_runtime.failures import unexpected_event
from relais_runtime.i18n import served_languages
from relais_runtime.links import LinkPurpose
from relais_runtime.merchants import MerchantConfig
from relais_runtime.metrics import CHAT_PAGES
from relais_runtime.outbox import forget_key
from relais_runtime.routes import context_of, router_for

# Consumers


async def on_shipment_state(event: Event, context: MessageContext) -> None:
    match event:
        case shipment_state.ShipmentStateChanged():
            await repository.update_shipment(context.connection, state=event)
        case _:
            unexpected_event(event, where=shipment_state.TOPIC.name)


async def on_shipment_erased(key: bytes, context: MessageContext) -> None:
    """A tombstone on the shipment state erases the chat's copy of that shipment, its
    conversations, and the chat's events about it still in the outbox."""
    merchant_id, shipment_id = split_partition_key(key)
    await repository.delete_shipment(
        context.connection, merchant_id=merchant_id, shipment_id=shipment_id
    )
    await forget_key(context.connection, key=key)


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


async def on_desk_reply(event: Event, context: MessageContext) -> None:
    """The desk's answer is stored once (answer_id) and shows on the customer's chat page;
    the survey of a closed case is the notifier's."""
    match event:
        case desk_replies.AnswerCustomer():
            await desk_repository.create_agent_answer(context.connection, answer=event)
        case desk_replies.SendSurvey():
            return
        case _:
            unexpected_event(event, where=desk_replies.TOPIC.name)


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
        Subscription(desk_replies.TOPIC, "chat.desk-replies", on_desk_reply),
    )


# Routes
# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, a
# thread hop per dependency per request.

Pages = Annotated[CustomerPages, Depends(context_of(CustomerPages))]


async def chat_link(token: str, pages: Pages) -> Granted | Denied:
    return pages.access(token, LinkPurpose.CHAT)


async def survey_link(token: str, pages: Pages) -> Granted | Denied:
    return pages.access(token, LinkPurpose.SURVEY)


async def tracking_link(token: str, pages: Pages) -> Granted | Denied:
    return pages.access(token, LinkPurpose.TRACKING)


async def entry_point(request: Request) -> EntryPoint:
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
    router = router_for(pages, tags=["customer pages"], route_class=SecuredRoute)
    router.add_api_route(
        "/static/chat/{name}", static_file, methods=["GET"], include_in_schema=False
    )
    router.add_api_route("/c/{token}", chat_page, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/c/{token}", chat_answer, methods=["POST"], response_class=HTMLResponse)
    router.add_api_route("/s/{token}", survey_page, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/s/{token}", survey_answer, methods=["POST"], response_class=HTMLResponse)
    router.add_api_route("/t/{token}", tracking_page, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/t/{token}/calendar.ics", calendar_download, methods=["GET"])
    router.add_api_route(
        "/track/{merchant_id}", lookup_page, methods=["GET"], response_class=HTMLResponse
    )
    router.add_api_route(
        "/track/{merchant_id}", lookup_answer, methods=["POST"], response_class=HTMLResponse
    )
    return router


def html_page(
    body: str, merchant: MerchantConfig | None, *, status: int = 200, embeddable: bool = False
) -> HTMLResponse:
    """A page with its own policy: its inline theme allowed, framed only where embeddable."""
    ancestors = merchant.tracking.page.frame_ancestors if merchant and embeddable else ()
    headers = security_headers(
        frame_ancestors=ancestors, inline_styles=[presentation.theme_css(merchant)]
    )
    return HTMLResponse(body, status_code=status, headers=headers)


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
            return html_page(render_conversation(shown), shown.merchant, status=status)


async def tracking_page(
    request: Request, link: TrackingLink, pages: Pages, entry: Entry
) -> Response:
    page = LinkPurpose.TRACKING.value
    if isinstance(link, Denied):
        return refused(page, link, embeddable=True)
    shown = await pages.tracking(link, entry=entry)
    if isinstance(shown, SubjectUnknown):
        return not_found(page, shown.merchant, embeddable=True)
    CHAT_PAGES.labels(page=page, outcome="shown").inc()
    calendar_url = request.url.path.rstrip("/") + "/calendar.ics"
    body = render_tracking(shown, calendar_url=calendar_url)
    return html_page(body, shown.merchant, embeddable=True)


async def calendar_download(request: Request, link: TrackingLink, pages: Pages) -> Response:
    """The tracking page's "add to calendar" file (404 when there is no day to add)."""
    page = "calendar"
    if isinstance(link, Denied):
        return refused(page, link)
    shown = await pages.calendar(link)
    if isinstance(shown, SubjectUnknown):
        return not_found(page, shown.merchant)
    tracking_url = str(request.url.replace(query="")).removesuffix("/calendar.ics")
    body = calendar_file(shown, tracking_url=tracking_url)
    if body is None:
        return not_found(page, shown.merchant)
    CHAT_PAGES.labels(page=page, outcome="shown").inc()
    filename = calendar_filename(shown.state.order_number)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def lookup_page(merchant_id: str, request: Request, pages: Pages) -> Response:
    merchant = pages.merchants.get(merchant_id)
    if merchant is None:
        return not_found("lookup", None)
    CHAT_PAGES.labels(page="lookup", outcome="shown").inc()
    shown = LookupPage(merchant, lookup_language(request, merchant))
    return html_page(render_lookup(shown), merchant, embeddable=True)


async def lookup_answer(
    merchant_id: str, request: Request, form: AnswerForm, pages: Pages
) -> Response:
    merchant = pages.merchants.get(merchant_id)
    if merchant is None:
        return not_found("lookup", None)
    found = await pages.lookup.find(merchant, form, client=client_address(request))
    if isinstance(found, Matched) and len(found.tracking_paths) == 1:
        CHAT_PAGES.labels(page="lookup", outcome="found").inc()
        return RedirectResponse(found.tracking_paths[0], status_code=303)
    shown = LookupPage(merchant, lookup_language(request, merchant), values=form)
    status, headers = 200, {}
    match found:
        case Refused():
            shown, status = replace(shown, errors=found.errors), 422
        case Throttled():
            shown = replace(shown, message="lookup_throttled", retry_after_s=found.retry_after_s)
            status, headers = 429, {"Retry-After": str(found.retry_after_s)}
        case NoMatch():
            shown, status = replace(shown, message="lookup_not_found"), 404
        case Matched():
            shown = replace(shown, parcels=found.tracking_paths)
    CHAT_PAGES.labels(page="lookup", outcome=LOOKUP_OUTCOMES[status]).inc()
    response = html_page(render_lookup(shown), merchant, status=status, embeddable=True)
    response.headers.update(headers)
    return response


LOOKUP_OUTCOMES = {200: "found", 404: "not_found", 422: "rejected", 429: "throttled"}


def client_address(request: Request) -> str:
    """The client's address (uvicorn reads X-Forwarded-For from FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def lookup_language(request: Request, merchant: MerchantConfig) -> str:
    """`?lang=` if the merchant serves it, else the first browser language the merchant
    serves (`de-AT` -> `de`), else the merchant's default (the shared i18n rule)."""
    served = words.page_languages(merchant.locales)
    asked = request.query_params.get("lang", "")
    if asked in served:
        return asked
    for tag in accepted_tags(request.headers.get("accept-language", "")):
        matched = served_languages((tag,), served)
        if matched:
            return matched[0]
    return words.ui_language(None, merchant.locales)


def accepted_tags(header: str) -> list[str]:
    """An Accept-Language header's tags, most wanted first (`q=0` and `*` left out)."""
    weighted = []
    for part in header.split(","):
        tag, _, parameters = part.strip().partition(";")
        quality = parameters.strip().removeprefix("q=").strip()
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        if tag.strip() and tag.strip() != "*" and weight > 0:
            weighted.append((-weight, tag.strip()))
    return [tag for _, tag in sorted(weighted, key=lambda pair: pair[0])]


def refused(page: str, denied: Denied, *, embeddable: bool = False) -> Response:
    CHAT_PAGES.labels(page=page, outcome=denied.reason.value).inc()
    body = render_denied(denied)
    return html_page(body, denied.merchant, status=403, embeddable=embeddable)


def not_found(page: str, merchant: MerchantConfig | None, *, embeddable: bool = False) -> Response:
    CHAT_PAGES.labels(page=page, outcome="not_found").inc()
    denied = Denied(Refusal.INVALID, merchant)
    body = render_denied(denied, not_found=True)
    return html_page(body, merchant, status=404, embeddable=embeddable)
