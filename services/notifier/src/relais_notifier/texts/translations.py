"""Are the notifier's texts complete in every language?

Rules:
- message wording (`templates/messages/<language>.yaml`, merchant-overridable, Jinja)
  is complete when every language file has every key of `en.yaml`, none empty, with
  the same `{{ variables }}` per key; a tone overlay (`<language>.<tone>.yaml`) may
  leave keys out but adds none, and its texts read the same variables as English;
- the fixed words of the notifier's pages (the unsubscribe page's link errors) are the
  gettext domain `notifier` (`locale/<ll>/LC_MESSAGES/notifier.po`), read once.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from relais_runtime.i18n import (
    DEFAULT_LANGUAGE,
    SUPPORTED_LANGUAGES,
    PlatformTexts,
    compare_texts,
    flatten,
    jinja_placeholders,
    load_platform_texts,
)

PACKAGE = "relais_notifier"
PLATFORM_DOMAIN = "notifier"


@cache
def platform_texts() -> PlatformTexts:
    return load_platform_texts(PACKAGE, PLATFORM_DOMAIN)


def messages_directory() -> Traversable:
    return resources.files(PACKAGE) / "templates" / "messages"


def _read(source: Traversable) -> dict[str, Any]:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def message_catalogue_problems(languages: tuple[str, ...] = SUPPORTED_LANGUAGES) -> list[str]:
    """Every problem of every message file against `en.yaml`, named `<file>: <key>: ...`."""
    directory = messages_directory()
    english = flatten(_read(directory / f"{DEFAULT_LANGUAGE}.yaml"))
    problems = []
    for language in languages:
        source = directory / f"{language}.yaml"
        if not source.is_file():
            problems.append(f"{language}.yaml: missing")
        elif language != DEFAULT_LANGUAGE:
            translation = flatten(_read(source))
            found = compare_texts(english, translation, placeholders=jinja_placeholders)
            problems.extend(f"{language}.yaml: {problem}" for problem in found)
    overlays = sorted(
        (entry for entry in directory.iterdir() if entry.name.count(".") == 2),
        key=lambda entry: entry.name,
    )
    for overlay in overlays:
        translation = flatten(_read(overlay))
        found = compare_texts(english, translation, placeholders=jinja_placeholders, partial=True)
        problems.extend(f"{overlay.name}: {problem}" for problem in found)
    return problems
