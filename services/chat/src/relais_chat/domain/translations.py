"""What a scenario text must hold: one value per language, and in a language with
tones (French "vous"/"tu") either one value for both or one per tone.

Rules:
- a scenario text names every language its scenario declares; a missing language
  or a language with tones missing one tone is a load error (validate_text);
- placeholders are jinja2 expressions over PLACEHOLDERS only (ui.texts renders them
  with autoescape, so a customer's name can never inject markup).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

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
