"""Rendering a scenario text for one customer: pick the language and tone, then fill
the placeholders (domain.translations.PLACEHOLDERS) with autoescape, so a customer's
name can never inject markup."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from relais_chat.domain.translations import Text
from relais_runtime.merchants.branding import Tone

_environment = SandboxedEnvironment(autoescape=True)


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
