"""The customer's pages as HTML: chat and survey (a conversation), tracking, and the
page of a link that cannot be opened.

Rules:
- server-rendered and usable without JavaScript: each step is a form POSTed to the
  page's own URL (chat.js only fetches the same URLs to avoid full reloads);
- every page wears the merchant's brand (theme, bot name, contact); a link that
  names no merchant gets a neutral page in English;
- the pages speak the customer's language when the pages' words have it (ui.words).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from babel import Locale
from jinja2 import Environment, PackageLoader, select_autoescape

from relais_chat.domain.access import Denied
from relais_chat.domain.conversation import (
    ConversationStatus,
    customer_locale,
    customer_zone,
    form_context,
    home_country,
)
from relais_chat.domain.forms import PERIODS, POSTAL_CODES, allowed_days
from relais_chat.domain.translations import language_of
from relais_chat.service.pages import ConversationView, TrackingView
from relais_chat.ui import presentation, words
from relais_chat.ui.tracking import tracking_context
from relais_chat.ui.transcript import (
    Bubble,
    Prompt,
    Reader,
    Voice,
    Words,
    bubbles,
    waiting_prompt,
)
from relais_runtime.merchants import MerchantConfig

templates = Environment(
    loader=PackageLoader("relais_chat", "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_base(merchant: MerchantConfig, locale: str) -> dict[str, Any]:
    language = words.ui_language(locale, merchant.locales)
    branding = merchant.branding
    contact = merchant.chat.contact
    return {
        "lang": language,
        "t": partial(words.say, language),
        "merchant": merchant,
        "theme": presentation.theme(merchant),
        "theme_css": presentation.theme_css(merchant),
        "bot_name": branding.bot_name,
        "contact": {
            "email": contact.email or branding.support_email,
            "phone": contact.phone or branding.support_phone,
            "url": str(contact.url or branding.support_url or "") or None,
            "hours": contact.hours,
        },
    }


def _neutral_base() -> dict[str, Any]:
    return {
        "lang": "en",
        "t": partial(words.say, "en"),
        "merchant": None,
        "theme": None,
        "theme_css": "",
        "contact": None,
    }


def render_denied(denied: Denied, *, not_found: bool = False) -> str:
    merchant = denied.merchant
    context = page_base(merchant, merchant.locales[0]) if merchant else _neutral_base()
    title_key = "not_found_title" if not_found else "denied_title"
    context.update(reason=denied.reason, not_found=not_found, title=context["t"](title_key))
    return templates.get_template("denied.html").render(context)


def render_conversation(view: ConversationView) -> str:
    merchant, subject, conversation = view.merchant, view.subject, view.conversation
    locale = conversation.locale if conversation else customer_locale(merchant, subject.state)
    zone = customer_zone(merchant, subject.state)
    context = page_base(merchant, locale)
    said, prompt = _transcript(view, locale=locale, zone=zone, t=context["t"])
    finished = conversation is not None and (
        conversation.progress.finished and conversation.status is ConversationStatus.FINISHED
    )
    abandoned = conversation is not None and conversation.status is ConversationStatus.ABANDONED
    context.update(
        title=context["t"](
            "survey_title" if view.survey else "chat_title",
            order_number=subject.context.order_number,
        ),
        bubbles=said,
        agent_answers=[
            {
                "title": context["t"]("agent_answer_from", merchant=merchant.branding.display_name),
                "signed": context["t"]("agent_answer_signed", agent=answer.agent_name),
                "when": presentation.show_datetime(answer.answered_at, locale=locale, zone=zone),
                "at": answer.answered_at.isoformat(),
                "text": answer.text,
            }
            for answer in view.agent_answers
        ],
        prompt=prompt,
        finished=finished,
        closed=subject.closed or abandoned,
        tracking_url=view.tracking_url,
        periods=list(PERIODS),
        countries=countries(context["lang"]),
        default_country=home_country(subject),
        day_min=None,
        day_max=None,
    )
    if prompt is not None:
        earliest, latest = allowed_days(form_context(merchant, subject, view.now))
        context.update(day_min=earliest.isoformat(), day_max=latest.isoformat())
    return templates.get_template("chat.html").render(context)


def _transcript(
    view: ConversationView, *, locale: str, zone: str, t: Words
) -> tuple[list[Bubble], Prompt | None]:
    conversation, scenario = view.conversation, view.scenario
    if conversation is None or scenario is None:
        return [], None
    values = presentation.placeholder_values(
        merchant=view.merchant,
        context=view.subject.context,
        state=view.subject.state,
        locale=locale,
        zone=zone,
    )
    say = Voice(language_of(locale), view.merchant.branding.tone, values)
    said = bubbles(
        conversation,
        scenario,
        say=say,
        reader=Reader(locale, zone, t),
        timeline=presentation.timeline(view.events, locale=locale, zone=zone),
    )
    prompt = waiting_prompt(
        conversation,
        scenario,
        subject=view.subject,
        rejected=view.rejected,
        form=view.form,
        say=say,
    )
    return said, prompt


def countries(language: str) -> list[tuple[str, str]]:
    return list(_countries(language))


@lru_cache(maxsize=64)
def _countries(language: str) -> tuple[tuple[str, str], ...]:
    """The address form's countries in `language`, by name (read from Babel once)."""
    names = Locale.parse(language).territories
    return tuple(
        sorted(((code, names.get(code, code)) for code in POSTAL_CODES), key=lambda c: c[1])
    )


def render_tracking(view: TrackingView, *, calendar_url: str) -> str:
    locale = customer_locale(view.merchant, view.state)
    context = page_base(view.merchant, locale)
    context.update(
        title=context["t"]("tracking_title"),
        calendar_url=calendar_url,
        **tracking_context(view, t=context["t"], locale=locale),
    )
    return templates.get_template("tracking.html").render(context)


@dataclass(frozen=True)
class LookupPage:
    """What the lookup page shows: the form, and the outcome of the last attempt."""

    merchant: MerchantConfig
    language: str
    values: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None
    """A word key: lookup_not_found or lookup_throttled."""
    retry_after_s: int = 0
    parcels: Sequence[str] = ()
    """Tracking paths, when the order has several parcels."""


def render_lookup(page: LookupPage) -> str:
    merchant = page.merchant
    context = page_base(merchant, page.language)
    t = context["t"]
    context.update(
        title=t("lookup_title"),
        description=t("lookup_description", merchant=merchant.branding.display_name),
        indexable=True,
        values=page.values,
        errors=page.errors,
        message=(
            t(page.message, minutes=max(1, -(-page.retry_after_s // 60))) if page.message else ""
        ),
        parcels=[
            (t("parcel_of", index=index, count=len(page.parcels)), path)
            for index, path in enumerate(page.parcels, start=1)
        ],
        languages=lookup_languages(merchant),
    )
    return templates.get_template("lookup.html").render(context)


def lookup_languages(merchant: MerchantConfig) -> list[tuple[str, str]]:
    """The page's languages the merchant speaks, with their own names, for the switch."""
    return [
        (language, Locale.parse(language).get_display_name(language) or language)
        for language in words.page_languages(merchant.locales)
    ]
