"""Message rendering: localized catalogues, branded email layout, SMS text.

Rules:
- the wording lives in `templates/messages/<language>.yaml`, one entry per template
  (subject, heading, body paragraphs, call to action, sms); every value is a Jinja
  template; a merchant whose branding tone is informal gets `<language>.informal.yaml`
  laid over it entry by entry, key by key (French "tu", friendlier English), and an
  overlay may only replace what the formal catalogue has;
- the HTML is rendered with autoescaping on, so nothing a variable holds (a first
  name, a pickup point's name) can inject markup;
- the language follows `relais_runtime.i18n.customer_language` (the customer's
  locale, narrowed, among the languages the merchant serves, else the merchant's
  default); dates and amounts are
  formatted by Babel for the customer's locale and shown in the customer's time zone
  (short forms in an SMS);
- a message whose facts carry the parcel's contents lists them (`_common.item`, with
  the product picture when given, its alt text the product's name); one whose facts
  carry an incident reason says it in the customer's words (`_reasons.<reason>`
  through `_common.carrier_reason`) as its second paragraph, in the email only; a
  declared delay's reason is `_delay_reasons.<reason>`, and `<template>_declared`
  falls back to `declared_delay` as `<template>_reminder` does to `anomaly_reminder`;
- an unknown template or a missing variable is a `RenderingError`, never a message
  with a hole in it; `check_catalogue` runs at start-up so a merchant binding a
  template the catalogue lacks stops the service;
- the subject is a mail header and the SMS one line of text: whatever a variable
  holds (an order number with a CR LF that slipped through), each run of control
  characters becomes one space (`header_text`), so it can neither split the header
  nor make the message unsendable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_currency
from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    select_autoescape,
)
from markupsafe import Markup

from relais_contracts.common import carrier_display_name
from relais_contracts.text import neutralize_control_characters
from relais_notifier.domain.triggers import BroadcastWording, MessageFacts
from relais_notifier.texts.translations import platform_texts
from relais_runtime.i18n import SUPPORTED_LANGUAGES, CatalogueError, customer_language
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.branding import Tone

CATALOGUE_LANGUAGES = SUPPORTED_LANGUAGES
DEFAULT_LANGUAGE = "en"
ENTRY_KEYS = ("subject", "heading", "body", "cta", "sms")
REQUIRED_ENTRIES = (
    "_common",
    "_actions",
    "_reasons",
    "_delay_reasons",
    "declared_delay",
    "broadcast",
    "desk_answer",
)
"""Entries every catalogue has, whatever the merchants bind."""


def readable_on(background: str) -> str:
    """White or near-black text, whichever contrasts more with `background` (#rrggbb)."""
    channels = [int(background[index : index + 2], 16) / 255 for index in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # WCAG contrast against white (L=1) versus against #1a1a1a (L~0.0103).
    return "#ffffff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.0603) else "#1a1a1a"


def header_text(value: str) -> str:
    """`value` fit for one mail header: each run of control characters (CR, LF, NUL,
    TAB...) becomes one space and the ends are stripped, so it never starts another
    header and never makes the message raise."""
    return neutralize_control_characters(value).strip()


def broadcast_wording(facts: MessageFacts, locale: str) -> BroadcastWording | None:
    """A broadcast's text in the customer's locale, else their language, else the first."""
    if not facts.broadcast:
        return None
    for candidate in (locale, locale.split("-")[0]):
        for wording in facts.broadcast:
            if wording.locale == candidate:
                return wording
    return facts.broadcast[0]


def message_language(request: RenderRequest) -> str:
    """The catalogue language; a broadcast is worded in the language of the text chosen."""
    wording = broadcast_wording(request.facts, request.locale)
    locale = wording.locale if wording is not None else request.locale
    return resolve_language(locale, request.merchant.locales)


def _broadcast_subject(request: RenderRequest) -> str | None:
    wording = broadcast_wording(request.facts, request.locale)
    return wording.subject if wording is not None else None


class RenderingError(Exception):
    """The message cannot be rendered (unknown template, missing variable)."""


@dataclass(frozen=True)
class RenderRequest:
    template: str
    locale: str
    merchant: MerchantConfig
    first_name: str | None
    time_zone: str
    facts: MessageFacts
    link: str
    link_expires_at: datetime
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class RenderedEmail:
    language: str
    subject: str
    text: str
    html: str


def _catalogue_file(name: str) -> dict[str, Any] | None:
    source = resources.files("relais_notifier") / "templates" / "messages" / name
    if not source.is_file():
        return None
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise RenderingError(f"catalogue {name}: not a mapping")
    return data


def _overlay_problems(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, entry in overlay.items():
        if name not in base:
            problems.append(f"{name!r} is not in the formal catalogue")
        elif not isinstance(entry, dict):
            problems.append(f"{name}: not a mapping")
        else:
            problems.extend(
                f"{name}: key {key!r} is not in the formal catalogue"
                for key in entry
                if key not in base[name]
            )
    return problems


@cache
def catalogue(language: str, tone: Tone = Tone.FORMAL) -> Mapping[str, Any]:
    base = _catalogue_file(f"{language}.yaml")
    if base is None:
        raise RenderingError(f"no catalogue for language {language!r}")
    overlay = None if tone is Tone.FORMAL else _catalogue_file(f"{language}.{tone.value}.yaml")
    if not overlay:
        return base
    problems = _overlay_problems(base, overlay)
    if problems:
        raise RenderingError(f"catalogue {language}.{tone.value}.yaml: {'; '.join(problems)}")
    return {name: {**entry, **overlay.get(name, {})} for name, entry in base.items()}


def check_catalogue(templates: Iterable[str]) -> list[str]:
    """Problems with the catalogues (every language and tone) for these template names
    (empty: all good)."""
    problems = []
    for language in CATALOGUE_LANGUAGES:
        for tone in Tone:
            try:
                entries = catalogue(language, tone)
            except RenderingError as error:
                problems.append(str(error))
                continue
            for name in (*REQUIRED_ENTRIES, *templates):
                if name not in entries:
                    problems.append(f"{language}.yaml: template {name!r} is missing")
                elif not name.startswith("_"):
                    missing = [key for key in ENTRY_KEYS if key not in entries[name]]
                    if missing:
                        problems.append(f"{language}.yaml: {name}: missing {missing}")
    try:
        platform_texts()
    except CatalogueError as error:
        problems.append(str(error))
    return sorted(set(problems))


def resolve_language(customer_locale: str, merchant_locales: Iterable[str]) -> str:
    """The shared rule: `de-AT` -> `de` when the merchant serves `de`, else its default."""
    return customer_language(customer_locale, tuple(merchant_locales), CATALOGUE_LANGUAGES)


def babel_locale(customer_locale: str, language: str) -> Locale:
    """The customer's own locale (en-GB dates for a British customer) if it speaks `language`."""
    try:
        parsed = Locale.parse(customer_locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(language)
    return parsed if parsed.language == language else Locale.parse(language)


def carrier_name(code: str | None) -> str | None:
    if code is None:
        return None
    return carrier_display_name(code)


@dataclass(frozen=True)
class _Formats:
    locale: Locale
    zone: ZoneInfo

    def day(self, value: date | None, *, short: bool = False) -> str | None:
        if value is None:
            return None
        if short:
            return format_skeleton("MMMd", value, locale=self.locale)
        return format_date(value, "full", locale=self.locale)

    def moment(self, value: datetime | None, *, short: bool) -> str | None:
        if value is None:
            return None
        local = value.astimezone(self.zone)
        day = (
            format_skeleton("MMMd", local, locale=self.locale)
            if short
            else format_date(local.date(), "full", locale=self.locale)
        )
        return f"{day} {format_time(local, 'short', locale=self.locale)}"

    def money(self, amount: str | None, currency: str | None) -> str | None:
        if amount is None or currency is None:
            return None
        return format_currency(Decimal(amount), currency, locale=self.locale)


COMPILED_CACHE_SIZE = 4096


class Renderer:
    """Renders one message in its three forms; holds the Jinja environments."""

    def __init__(self) -> None:
        self._html = Environment(
            loader=PackageLoader("relais_notifier", "templates"),
            autoescape=select_autoescape(["html"], default_for_string=True, default=True),
            undefined=StrictUndefined,
        )
        self._text = Environment(
            loader=PackageLoader("relais_notifier", "templates"),
            autoescape=False,  # noqa: S701  (plain text and SMS bodies, never HTML)
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._compiled: dict[tuple[int, str], Template] = {}
        """Catalogue texts compiled once (compiling was most of a message's CPU)."""

    def _template(self, environment: Environment, source: str) -> Template:
        """`source` compiled in `environment` (one of this renderer's two), from a cache
        emptied when it reaches COMPILED_CACHE_SIZE (campaign wordings vary)."""
        key = (id(environment), source)
        template = self._compiled.get(key)
        if template is None:
            if len(self._compiled) >= COMPILED_CACHE_SIZE:
                self._compiled.clear()
            template = self._compiled[key] = environment.from_string(source)
        return template

    def _variables(self, request: RenderRequest, *, language: str, short: bool) -> dict[str, Any]:
        formats = _Formats(
            locale=babel_locale(request.locale, language), zone=ZoneInfo(request.time_zone)
        )
        facts = request.facts
        branding = request.merchant.branding
        support = branding.support_email or (
            str(branding.support_url) if branding.support_url else branding.support_phone
        )
        return {
            "merchant": branding.display_name,
            "first_name": request.first_name,
            "order_number": facts.order_number,
            "carrier": carrier_name(facts.carrier),
            "tracking_number": facts.tracking_number,
            "promised_date": formats.day(facts.promised_delivery_by, short=short),
            "estimated_date": formats.day(facts.estimated_delivery, short=short),
            "pickup_point_name": facts.pickup_point_name,
            "pickup_point_address": facts.pickup_point_address,
            "pickup_point_hours": facts.pickup_point_hours,
            "hold_deadline": formats.moment(facts.pickup_hold_deadline, short=short),
            "amount": formats.money(facts.amount, facts.currency),
            "delay_note": facts.delay_note,
            "new_ship_date": formats.day(
                facts.new_ship_by.astimezone(formats.zone).date() if facts.new_ship_by else None,
                short=short,
            ),
            "parcel_index": facts.parcel_index,
            "parcel_count": facts.parcel_count,
            "link": request.link,
            "link_expires": formats.day(request.link_expires_at.astimezone(formats.zone).date()),
            "support": support,
            "broadcast_subject": _broadcast_subject(request),
        }

    def _entry(
        self, template: str, language: str, tone: Tone
    ) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        entries = catalogue(language, tone)
        if template not in entries and template.endswith("_reminder"):
            template = "anomaly_reminder"
        if template not in entries and template.endswith("_declared"):
            template = "declared_delay"
        if template not in entries:
            raise RenderingError(f"no template {template!r} in the {language} catalogue")
        return entries[template], entries

    def _fill(self, environment: Environment, source: str, variables: Mapping[str, Any]) -> str:
        try:
            return self._template(environment, source).render(variables).strip()
        except TemplateError as error:
            raise RenderingError(f"{type(error).__name__}: {error}") from None

    def _action_label(
        self, environment: Environment, entries: Mapping[str, Any], variables: dict[str, Any]
    ) -> str | None:
        action = variables.get("action")
        if action is None:
            return None
        source = entries["_actions"].get(action)
        if source is None:
            raise RenderingError(f"no wording for action {action!r}")
        return self._fill(environment, source, variables)

    def email(self, request: RenderRequest) -> RenderedEmail:
        language = message_language(request)
        entry, entries = self._entry(request.template, language, request.merchant.branding.tone)
        html_parts = self._parts(self._html, entry, entries, request, language=language)
        text_parts = self._parts(self._text, entry, entries, request, language=language)
        context = {
            "branding": request.merchant.branding,
            "cta_text": readable_on(request.merchant.branding.colors.accent),
            "header_text": readable_on(request.merchant.branding.colors.primary),
            "language": language,
            "link": request.link,
            "unsubscribe_url": request.unsubscribe_url,
        }
        try:
            html = self._html.get_template("email.html.j2").render(
                {
                    **context,
                    **{
                        key: Markup(value)  # noqa: S704  (rendered with autoescape on)
                        for key, value in html_parts.items()
                        if key not in ("paragraphs", "items")
                    },
                    "paragraphs": [Markup(p) for p in html_parts["paragraphs"]],  # noqa: S704
                    "items": [
                        {**item, "line": Markup(item["line"])}  # noqa: S704
                        for item in html_parts["items"]
                    ],
                }
            )
            text = self._text.get_template("email.txt.j2").render({**context, **text_parts})
        except TemplateError as error:
            raise RenderingError(f"{type(error).__name__}: {error}") from None
        return RenderedEmail(language=language, subject=text_parts["subject"], text=text, html=html)

    def _parts(
        self,
        environment: Environment,
        entry: Mapping[str, Any],
        entries: Mapping[str, Any],
        request: RenderRequest,
        *,
        language: str,
    ) -> dict[str, Any]:
        variables = self._variables(request, language=language, short=False)
        variables["action"] = request.facts.action
        variables["action_label"] = self._action_label(environment, entries, variables)
        variables["delay_reason"] = self._delay_reason(environment, entries, request.facts)
        common = entries["_common"]
        greeting = common["greeting_named"] if request.first_name else common["greeting"]
        paragraphs = [self._fill(environment, source, variables) for source in entry["body"]]
        paragraphs.extend(self._broadcast_paragraphs(environment, request))
        reason = self._reason_line(environment, entries, request.facts, variables)
        if reason:
            paragraphs.insert(1, reason)
        return {
            "subject": header_text(self._fill(self._text, entry["subject"], variables)),
            "heading": self._fill(environment, entry["heading"], variables),
            "greeting": self._fill(environment, greeting, variables),
            "paragraphs": [paragraph for paragraph in paragraphs if paragraph],
            "cta": self._fill(environment, entry["cta"], variables),
            "signature": self._fill(environment, common["signature"], variables),
            "link_note": self._fill(environment, common["link_note"], variables),
            "why": self._fill(environment, common["why"], variables),
            "unsubscribe_label": self._fill(environment, common["unsubscribe"], variables),
            "help": self._fill(environment, common["help"], variables)
            if variables["support"]
            else "",
            "contents_heading": self._fill(environment, common["contents"], variables),
            "items": self._items(environment, common, request.facts),
        }

    def _broadcast_paragraphs(self, environment: Environment, request: RenderRequest) -> list[str]:
        """The merchant's body, one paragraph per non-empty line, escaped in HTML."""
        wording = broadcast_wording(request.facts, request.locale)
        if wording is None:
            return []
        lines = [line.strip() for line in wording.body.split("\n")]
        return [self._fill(environment, "{{ line }}", {"line": line}) for line in lines if line]

    def _reason_line(
        self,
        environment: Environment,
        entries: Mapping[str, Any],
        facts: MessageFacts,
        variables: Mapping[str, Any],
    ) -> str:
        """The carrier's reason in the customer's words, or "" when there is none."""
        if facts.incident_reason is None:
            return ""
        source = entries["_reasons"].get(facts.incident_reason.value)
        if source is None:
            raise RenderingError(f"no wording for reason {facts.incident_reason.value!r}")
        reason = self._fill(environment, source, variables)
        return self._fill(
            environment, entries["_common"]["carrier_reason"], {**variables, "reason": reason}
        )

    def _delay_reason(
        self, environment: Environment, entries: Mapping[str, Any], facts: MessageFacts
    ) -> str:
        """The merchant's declared reason in the customer's words, or ""."""
        if facts.delay_reason is None:
            return ""
        source = entries["_delay_reasons"].get(facts.delay_reason.value)
        if source is None:
            raise RenderingError(f"no wording for delay reason {facts.delay_reason.value!r}")
        return self._fill(environment, source, {})

    def _items(
        self, environment: Environment, common: Mapping[str, Any], facts: MessageFacts
    ) -> list[dict[str, Any]]:
        return [
            {
                "line": self._fill(
                    environment, common["item"], {"name": item.name, "quantity": item.quantity}
                ),
                "name": item.name,
                "image_url": item.image_url,
            }
            for item in facts.items
        ]

    def sms(self, request: RenderRequest) -> str:
        language = message_language(request)
        entry, entries = self._entry(request.template, language, request.merchant.branding.tone)
        variables = self._variables(request, language=language, short=True)
        variables["action"] = request.facts.action
        variables["action_label"] = self._action_label(self._text, entries, variables)
        variables["delay_reason"] = self._delay_reason(self._text, entries, request.facts)
        text = self._fill(self._text, entry["sms"], variables)
        return " ".join(neutralize_control_characters(text).split())

    def fill_text(self, source: str, **variables: Any) -> str:
        """A catalogue string filled as plain text (the page template escapes it)."""
        return self._fill(self._text, source, variables)

    def page(self, name: str, **variables: Any) -> str:
        """A small HTML page of this service (the unsubscribe form), autoescaped."""
        try:
            return self._html.get_template(name).render(variables)
        except TemplateError as error:
            raise RenderingError(f"{type(error).__name__}: {error}") from None
