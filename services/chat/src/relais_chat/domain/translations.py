"""What a scenario text must hold: one value per language, and in any language
either one value for both tones or one per tone ("formal": vous, Sie, usted, Lei, u;
"informal": tu, du, tú, tu, je).

Rules:
- a scenario speaks only LANGUAGES (en, fr, de, es, it, nl);
- a scenario text names every language its scenario declares; a missing language
  or a language with tones missing one tone is a load error (validate_text);
- placeholders are jinja2 expressions over PLACEHOLDERS only (ui.texts renders them
  with autoescape, so a customer's name can never inject markup);
- a German, Spanish, Italian or Dutch text uses exactly the English text's placeholders,
  in every tone, so no translation drops or invents a fact (English and French texts
  predate this rule and are checked as before: known placeholders only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from relais_runtime.i18n import SUPPORTED_LANGUAGES
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
        "delay_reason",
        "new_delivery_date",
        "new_ship_date",
    }
)

LANGUAGES: Final = SUPPORTED_LANGUAGES
"""The languages a scenario may declare (en, fr, de, es, it, nl)."""

REFERENCE_LANGUAGE: Final = "en"
SAME_PLACEHOLDERS_AS_REFERENCE: Final = frozenset({"de", "es", "it", "nl"})
"""Languages whose texts must use exactly the English text's placeholders."""

_environment = SandboxedEnvironment(autoescape=True)


def language_of(locale: str) -> str:
    return locale.split("-")[0]


def validate_text(text: Any, *, languages: tuple[str, ...]) -> list[str]:
    """Problems with one text (missing or unknown language or tone, unknown placeholder,
    placeholders other than the English text's)."""
    if not isinstance(text, Mapping):
        return ["a text is a mapping of language to text"]
    problems = [
        f"missing translation {language!r}" for language in languages if language not in text
    ]
    for language, value in text.items():
        if language not in LANGUAGES:
            problems.append(f"{language!r}: not a scenario language {LANGUAGES}")
        variants = value.values() if isinstance(value, Mapping) else [value]
        if isinstance(value, Mapping) and set(value) != {tone.value for tone in Tone}:
            problems.append(f"{language!r}: give one text, or both 'formal' and 'informal'")
        for variant in variants:
            if not isinstance(variant, str) or not variant.strip():
                problems.append(f"{language!r}: empty text")
                continue
            problems.extend(f"{language!r}: {problem}" for problem in _template_problems(variant))
    problems.extend(_placeholder_drift(text))
    return problems


def placeholders_of(source: str) -> frozenset[str]:
    """The variables a text's jinja2 expressions read (empty if it does not parse)."""
    try:
        return frozenset(meta.find_undeclared_variables(_environment.parse(source)))
    except TemplateSyntaxError:
        return frozenset()


def _placeholder_drift(text: Mapping[str, Any]) -> list[str]:
    """Each tone of each SAME_PLACEHOLDERS_AS_REFERENCE language against the English text."""
    reference = text.get(REFERENCE_LANGUAGE)
    if reference is None:
        return []
    expected = frozenset().union(*(placeholders_of(v) for v in _strings(reference)))
    problems: list[str] = []
    for language in sorted(SAME_PLACEHOLDERS_AS_REFERENCE & set(text)):
        value = text[language]
        tones = value.items() if isinstance(value, Mapping) else [("", value)]
        for tone, variant in tones:
            if not isinstance(variant, str):
                continue
            found = placeholders_of(variant)
            where = f"{language!r} {tone}".rstrip()
            problems.extend(
                f"{where}: placeholder {name!r} of the English text is missing"
                for name in sorted(expected - found)
            )
            problems.extend(
                f"{where}: placeholder {name!r} is not in the English text"
                for name in sorted(found - expected)
            )
    return problems


def _strings(value: Any) -> Iterable[str]:
    variants = value.values() if isinstance(value, Mapping) else [value]
    return [variant for variant in variants if isinstance(variant, str)]


def _template_problems(source: str) -> list[str]:
    try:
        parsed = _environment.parse(source)
    except TemplateSyntaxError as error:
        return [f"bad placeholder syntax: {error.message}"]
    unknown = meta.find_undeclared_variables(parsed) - PLACEHOLDERS
    return [f"unknown placeholder {name!r}" for name in sorted(unknown)]
