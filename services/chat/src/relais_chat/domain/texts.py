"""Translated texts: one value per language, and in a language with tones
(French "vous"/"tu") either one value for both or one per tone.

Rules:
- a scenario text names every language its scenario declares; a missing language
  or a language with tones missing one tone is a load error (validate_text);
- placeholders are jinja2 expressions over PLACEHOLDERS only, rendered with
  autoescape: a customer's name can never inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from jinja2 import Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from relais_runtime.merchants.branding import Tone

Text = Mapping[str, "str | Mapping[str, str]"]
"""`{"en": "...", "fr": {"formal": "...", "informal": "..."}}` or `{"fr": "..."}`."""

PLACEHOLDERS: Final = frozenset(
    {
        "first_name",
        "merchant_name",
        "bot_name",
        "order_number",
        "carrier",
        "tracking_number",
        "promised_date",
        "estimated_date",
        "pickup_point_name",
        "pickup_point_address",
        "hold_deadline",
        "parcel_index",
        "parcel_count",
    }
)

_environment = SandboxedEnvironment(autoescape=True)


def language_of(locale: str) -> str:
    return locale.split("-")[0]


def validate_text(text: Any, *, languages: tuple[str, ...]) -> list[str]:
    """Problems with one text (missing language or tone, unknown placeholder)."""
    if not isinstance(text, Mapping):
        return ["a text is a mapping of language to text"]
    problems = [
        f"missing translation {language!r}" for language in languages if language not in text
    ]
    for language, value in text.items():
        variants = value.values() if isinstance(value, Mapping) else [value]
        if isinstance(value, Mapping) and set(value) != {tone.value for tone in Tone}:
            problems.append(f"{language!r}: give one text, or both 'formal' and 'informal'")
        for variant in variants:
            if not isinstance(variant, str) or not variant.strip():
                problems.append(f"{language!r}: empty text")
                continue
            problems.extend(f"{language!r}: {problem}" for problem in _template_problems(variant))
    return problems


def _template_problems(source: str) -> list[str]:
    try:
        parsed = _environment.parse(source)
    except TemplateSyntaxError as error:
        return [f"bad placeholder syntax: {error.message}"]
    unknown = meta.find_undeclared_variables(parsed) - PLACEHOLDERS
    return [f"unknown placeholder {name!r}" for name in sorted(unknown)]


def pick(text: Text, *, language: str, tone: Tone) -> str:
    """The text in one language and tone (validated texts always have it)."""
    value = text[language] if language in text else next(iter(text.values()))
    if isinstance(value, Mapping):
        return value[tone.value]
    return value


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Template:
    """Scenario texts are few and fixed: each is compiled once."""
    return _environment.from_string(source)


def render(text: Text, *, language: str, tone: Tone, values: Mapping[str, object]) -> Markup:
    """Pick, then fill the placeholders (escaped); a missing value renders empty."""
    template = _compiled(pick(text, language=language, tone=tone))
    return Markup(template.render(**values))  # noqa: S704 - autoescaped template output
