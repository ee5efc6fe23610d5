"""The customer's pages: chat `/c/{token}`, survey `/s/{token}`, tracking `/t/{token}`.

Rules:
- server-rendered and usable without JavaScript: each step is a form POSTed to the
  page's own URL, answered by a 303 redirect back to it (or the page again with
  status 422 and the errors next to the fields); chat.js only fetches the same
  URLs to avoid full reloads;
- the token decides everything (domain.access): a bad or expired link gets status
  403 and the merchant's contact when the merchant is known; a link to something
  the chat does not know (yet) gets 404;
- every database read is scoped by the merchant inside the token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from babel import Locale
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from relais_chat import conversations, repository
from relais_chat.configuration import ChatConfiguration
from relais_chat.domain import events as events_of
from relais_chat.domain import presentation, ui
from relais_chat.domain.access import Denied, Granted, check_link
from relais_chat.domain.engine import Rejected
from relais_chat.domain.forms import PERIODS, POSTAL_CODES, FormContext, allowed_days
from relais_chat.domain.scenarios import (
    EscalationNode,
    FieldKind,
    FormNode,
    InfoNode,
    QuestionNode,
    Scenario,
    SurveyNode,
)
from relais_chat.domain.texts import language_of, render
from relais_contracts.common import DeliveryMode
from relais_contracts.topics import conversations as conversations_topic
from relais_contracts.topics.conversations import EntryPoint
from relais_runtime.links import LinkPurpose
from relais_runtime.merchants import MerchantConfig
from relais_runtime.metrics import CHAT_PAGES
from relais_runtime.outbox import enqueue

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {"chat.css": "text/css", "chat.js": "text/javascript"}

templates = Environment(
    loader=PackageLoader("relais_chat", "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Bubble:
    who: str
    html: Markup
    timeline: list[presentation.TimelineItem] | None = None


@dataclass
class Prompt:
    """The input the customer has to give now."""

    kind: str
    node_id: str
    step: int
    field_kind: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    optional: bool = False
    errors: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)


def _entry(request: Request) -> EntryPoint:
    return (
        EntryPoint.SMS_LINK if request.query_params.get("via") == "sms" else EntryPoint.EMAIL_LINK
    )


def build_router(*, pool: asyncpg.Pool, configuration: ChatConfiguration) -> APIRouter:
    router = APIRouter(tags=["customer pages"])
    static = {name: (STATIC_DIR / name).read_bytes() for name in STATIC_FILES}
    etags = {name: hashlib.sha256(body).hexdigest()[:16] for name, body in static.items()}

    def access(token: str, purpose: LinkPurpose) -> Granted | Denied:
        return check_link(
            signer=configuration.signer,
            token=token,
            purpose=purpose,
            now=configuration.clock.now(),
            merchants=configuration.merchants,
        )

    @router.get("/static/chat/{name}", include_in_schema=False)
    async def static_file(name: str) -> Response:
        if name not in static:
            return Response(status_code=404)
        return Response(
            static[name],
            media_type=STATIC_FILES[name],
            headers={"Cache-Control": "public, max-age=86400", "ETag": etags[name]},
        )

    async def conversation_page(
        request: Request, token: str, purpose: LinkPurpose, form: Mapping[str, str] | None
    ) -> Response:
        granted = access(token, purpose)
        if isinstance(granted, Denied):
            CHAT_PAGES.labels(page=purpose.value, outcome=granted.reason).inc()
            return denied_page(granted, status=403)
        merchant, subject_key = granted.merchant, granted.claims.subject
        now = configuration.clock.now()
        async with pool.acquire() as connection:
            subject = await (
                conversations.load_anomaly_subject(
                    connection, merchant_id=merchant.merchant_id, anomaly_id=subject_key
                )
                if purpose is LinkPurpose.CHAT
                else conversations.load_survey_subject(
                    connection, merchant_id=merchant.merchant_id, shipment_id=subject_key
                )
            )
            if subject is None:
                CHAT_PAGES.labels(page=purpose.value, outcome="not_found").inc()
                return denied_page(Denied("invalid", merchant), status=404, not_found=True)
            rejected: Rejected | None = None
            if form is not None:
                rejected = await conversations.answer(
                    connection,
                    merchant=merchant,
                    subject=subject,
                    scenarios=configuration.scenarios,
                    node_id=form.get("node", ""),
                    step=_int(form.get("step")),
                    form=form,
                    context=form_context(merchant, subject, now),
                    now=now,
                )
                if rejected is None:
                    CHAT_PAGES.labels(page=purpose.value, outcome="answered").inc()
                    return RedirectResponse(str(request.url.path) + "#now", status_code=303)
            stored = await conversations.get_or_start(
                connection,
                merchant=merchant,
                subject=subject,
                scenarios=configuration.scenarios,
                entry=_entry(request),
                now=now,
            )
            events = await repository.list_tracking_events(
                connection, merchant_id=merchant.merchant_id, shipment_id=subject.shipment_id
            )
        CHAT_PAGES.labels(page=purpose.value, outcome="rejected" if rejected else "shown").inc()
        tracking_token = configuration.signer.sign(
            merchant_id=merchant.merchant_id,
            purpose=LinkPurpose.TRACKING,
            subject=subject.shipment_id,
            issued_at=granted.claims.issued_at,
        )
        html = render_conversation(
            merchant=merchant,
            subject=subject,
            stored=stored,
            scenarios=configuration.scenarios,
            events=events,
            now=now,
            rejected=rejected,
            form=form or {},
            survey=purpose is LinkPurpose.SURVEY,
            tracking_url=f"/t/{tracking_token}",
        )
        return HTMLResponse(html, status_code=422 if rejected else 200)

    @router.get("/c/{token}", response_class=HTMLResponse)
    async def chat_page(request: Request, token: str) -> Response:
        return await conversation_page(request, token, LinkPurpose.CHAT, None)

    @router.post("/c/{token}", response_class=HTMLResponse)
    async def chat_answer(request: Request, token: str) -> Response:
        return await conversation_page(request, token, LinkPurpose.CHAT, await _form(request))

    @router.get("/s/{token}", response_class=HTMLResponse)
    async def survey_page(request: Request, token: str) -> Response:
        return await conversation_page(request, token, LinkPurpose.SURVEY, None)

    @router.post("/s/{token}", response_class=HTMLResponse)
    async def survey_answer(request: Request, token: str) -> Response:
        return await conversation_page(request, token, LinkPurpose.SURVEY, await _form(request))

    @router.get("/t/{token}", response_class=HTMLResponse)
    async def tracking_page(request: Request, token: str) -> Response:
        granted = access(token, LinkPurpose.TRACKING)
        if isinstance(granted, Denied):
            CHAT_PAGES.labels(page="tracking", outcome=granted.reason).inc()
            return denied_page(granted, status=403)
        merchant = granted.merchant
        now = configuration.clock.now()
        async with pool.acquire() as connection:
            state = await repository.get_shipment(
                connection, merchant_id=merchant.merchant_id, shipment_id=granted.claims.subject
            )
            if state is None:
                CHAT_PAGES.labels(page="tracking", outcome="not_found").inc()
                return denied_page(Denied("invalid", merchant), status=404, not_found=True)
            events = await repository.list_tracking_events(
                connection, merchant_id=merchant.merchant_id, shipment_id=state.shipment_id
            )
            locale = conversations.customer_locale(merchant, state)
            async with connection.transaction():
                viewed = events_of.tracking_viewed(
                    state, entry=_entry(request), locale=locale, now=now
                )
                await enqueue(connection, topic=conversations_topic.TOPIC, events=[viewed])
        CHAT_PAGES.labels(page="tracking", outcome="shown").inc()
        return HTMLResponse(render_tracking(merchant=merchant, state=state, events=events))

    return router


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {key: value for key, value in data.items() if isinstance(value, str)}


def _int(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return -1


def form_context(
    merchant: MerchantConfig, subject: conversations.Subject, now: datetime
) -> FormContext:
    zone = ZoneInfo(conversations.customer_zone(merchant, subject.state))
    return FormContext(
        today=now.astimezone(zone).date(),
        time_zone=zone,
        country=home_country(subject),
        pickup_network=subject.context.pickup_point.network
        if subject.context.pickup_point
        else None,
    )


def home_country(subject: conversations.Subject) -> str:
    state = subject.state
    if state is not None and state.delivery.address is not None:
        return state.delivery.address.country
    if subject.context.pickup_point is not None:
        return subject.context.pickup_point.address.country
    return "FR"


def page_base(merchant: MerchantConfig, locale: str) -> dict[str, Any]:
    language = ui.ui_language(locale)
    branding = merchant.branding
    contact = merchant.chat.contact
    return {
        "lang": language,
        "t": lambda key, **values: ui.say(language, key, **values),
        "merchant": merchant,
        "theme": presentation.theme(merchant),
        "bot_name": branding.bot_name,
        "contact": {
            "email": contact.email or branding.support_email,
            "phone": contact.phone or branding.support_phone,
            "url": str(contact.url or branding.support_url or "") or None,
            "hours": contact.hours,
        },
    }


def denied_page(denied: Denied, *, status: int, not_found: bool = False) -> HTMLResponse:
    merchant = denied.merchant
    locale = merchant.locales[0] if merchant else "en"
    context: dict[str, Any] = (
        page_base(merchant, locale)
        if merchant
        else {
            "lang": "en",
            "t": lambda key, **values: ui.say("en", key, **values),
            "merchant": None,
            "theme": None,
            "contact": None,
        }
    )
    title_key = "not_found_title" if not_found else "denied_title"
    context.update(reason=denied.reason, not_found=not_found, title=context["t"](title_key))
    return HTMLResponse(templates.get_template("denied.html").render(context), status_code=status)


def render_conversation(
    *,
    merchant: MerchantConfig,
    subject: conversations.Subject,
    stored: repository.StoredConversation | None,
    scenarios: Mapping[str, Scenario],
    events: list[Any],
    now: datetime,
    rejected: Rejected | None,
    form: Mapping[str, str],
    survey: bool,
    tracking_url: str,
) -> str:
    locale = stored.locale if stored else conversations.customer_locale(merchant, subject.state)
    zone = conversations.customer_zone(merchant, subject.state)
    context = page_base(merchant, locale)
    language = language_of(locale)
    values = presentation.placeholder_values(
        merchant=merchant, context=subject.context, state=subject.state, locale=locale, zone=zone
    )
    bubbles: list[Bubble] = []
    prompt: Prompt | None = None
    finished = True
    if stored is not None:
        scenario = scenarios[stored.scenario_id]
        timeline = presentation.timeline(events, locale=locale, zone=zone)

        def say(text: Any) -> Markup:
            return render(text, language=language, tone=merchant.branding.tone, values=values)

        progress = stored.progress
        for index, turn in enumerate(progress.turns):
            node = scenario.node(turn.node_id)
            last = index == len(progress.turns) - 1
            done_escalation = isinstance(node, EscalationNode) and turn.value is not None
            bubbles.append(
                Bubble("bot", say(node.text), timeline if isinstance(node, InfoNode) else None)
            )
            if turn.value is not None:
                bubbles.append(
                    Bubble("customer", answer_html(node, turn.value, say, locale, zone, context))
                )
            if done_escalation and isinstance(node, EscalationNode):
                bubbles.append(Bubble("bot", say(node.done)))
            if last and stored.status == "open" and not progress.finished and not subject.closed:
                prompt = make_prompt(
                    turn.node_id, node, progress.step, rejected, form, say, subject
                )
        finished = progress.finished
    context.update(
        title=ui.say(
            context["lang"],
            "survey_title" if survey else "chat_title",
            order_number=subject.context.order_number,
        ),
        bubbles=bubbles,
        prompt=prompt,
        finished=finished and stored is not None and stored.status == "finished",
        closed=subject.closed or (stored is not None and stored.status == "abandoned"),
        tracking_url=tracking_url,
        periods=list(PERIODS),
        countries=countries(context["lang"]),
        default_country=home_country(subject),
        day_min=None,
        day_max=None,
    )
    if prompt is not None:
        earliest, latest = allowed_days(form_context(merchant, subject, now))
        context.update(day_min=earliest.isoformat(), day_max=latest.isoformat())
    return templates.get_template("chat.html").render(context)


def countries(language: str) -> list[tuple[str, str]]:
    names = Locale.parse(language).territories
    return sorted(((code, names.get(code, code)) for code in POSTAL_CODES), key=lambda c: c[1])


def make_prompt(
    node_id: str,
    node: Any,
    step: int,
    rejected: Rejected | None,
    form: Mapping[str, str],
    say: Any,
    subject: conversations.Subject,
) -> Prompt | None:
    errors = rejected.errors if rejected else {}
    values = dict(form) if rejected else prefill(node, subject)
    if isinstance(node, QuestionNode):
        return Prompt(
            "question",
            node_id,
            step,
            choices=[(c.id, str(say(c.label))) for c in node.choices],
            errors=errors,
        )
    if isinstance(node, FormNode):
        return Prompt(
            "form",
            node_id,
            step,
            field_kind=node.field.value,
            optional=node.optional,
            errors=errors,
            values=values,
        )
    if isinstance(node, SurveyNode):
        return Prompt("survey", node_id, step, errors=errors, values=values)
    if isinstance(node, EscalationNode):
        return Prompt("escalation", node_id, step, errors=errors, values=values)
    return None


def prefill(node: Any, subject: conversations.Subject) -> dict[str, str]:
    state = subject.state
    if state is None:
        return {}
    if isinstance(node, EscalationNode) and state.customer.phone:
        return {"phone": state.customer.phone}
    if isinstance(node, FormNode) and node.field is FieldKind.ADDRESS and state.delivery.address:
        address = state.delivery.address
        return {
            "line1": address.line1,
            "line2": address.line2 or "",
            "postal_code": address.postal_code,
            "city": address.city,
            "country": address.country,
        }
    return {}


def answer_html(
    node: Any,
    value: Mapping[str, Any],
    say: Any,
    locale: str,
    zone: str,
    context: Mapping[str, Any],
) -> Markup:
    t = context["t"]
    if value.get("skipped"):
        return Markup("—")
    if isinstance(node, QuestionNode):
        label = next(c.label for c in node.choices if c.id == value["choice"])
        rendered: Markup = say(label)
        return rendered
    if isinstance(node, SurveyNode):
        stars = "★" * value["csat"] + "☆" * (5 - value["csat"])
        comment = value.get("comment")
        return Markup("{} {}").format(stars, f"— {comment}" if comment else "")
    if isinstance(node, EscalationNode):
        return Markup("{} · {}").format(value["phone"], show_slot(value["slot"], locale, zone, t))
    if "slot" in value:
        return Markup.escape(show_slot(value["slot"], locale, zone, t))
    if "day" in value:
        return Markup.escape(
            presentation.show_date(datetime.fromisoformat(value["day"]).date(), locale=locale)
        )
    if "phone" in value:
        return Markup.escape(value["phone"])
    if "text" in value:
        return Markup.escape(value["text"])
    if "point_id" in value:
        return Markup("{}<br>{}").format(value["name"], presentation.one_line(value["address"]))
    return Markup.escape(presentation.one_line(dict(value)))


def show_slot(slot: Mapping[str, str], locale: str, zone: str, t: Any) -> str:
    start = datetime.fromisoformat(slot["start"])
    period = next(
        (
            name
            for name, (begin, _) in PERIODS.items()
            if begin == start.astimezone(ZoneInfo(zone)).time()
        ),
        "",
    )
    day = presentation.show_date(start.astimezone(ZoneInfo(zone)).date(), locale=locale)
    return f"{day}, {t(period)}" if period else day


def render_tracking(*, merchant: MerchantConfig, state: Any, events: list[Any]) -> str:
    locale = conversations.customer_locale(merchant, state)
    zone = state.customer.time_zone
    context = page_base(merchant, locale)
    point = (
        state.delivery.pickup_point if state.delivery.mode is DeliveryMode.PICKUP_POINT else None
    )
    context.update(
        title=ui.say(context["lang"], "tracking_title"),
        state=state,
        status_label=ui.say(context["lang"], f"status_{state.status.value}"),
        carrier=presentation.carrier_name(state.carrier),
        estimated=presentation.show_date(
            state.estimated_delivery.day if state.estimated_delivery else None, locale=locale
        ),
        promised=presentation.show_date(state.promised_delivery_by, locale=locale),
        delivered_at=presentation.show_datetime(state.delivered_at, locale=locale, zone=zone),
        point=point,
        point_address=presentation.one_line(point.address.model_dump()) if point else "",
        hold_deadline=presentation.show_datetime(
            state.pickup_hold_deadline, locale=locale, zone=zone
        ),
        timeline=presentation.timeline(events, locale=locale, zone=zone),
        status_key=state.status.value,
    )
    return templates.get_template("tracking.html").render(context)
