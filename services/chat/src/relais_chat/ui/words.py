"""The pages' own words (labels, buttons, errors, statuses, the timeline's sentence of
each carrier substatus), read from the gettext domain `chat`
(`relais_chat/locale/<ll>/LC_MESSAGES/chat.po`, msgid = the key).

Rules:
- every key of the English catalogue exists in every language of LANGUAGES, with the
  same placeholders (`relais i18n check`, run by a unit test); a key a language lacks
  is said in English, never as a hole (relais_runtime.i18n.PlatformTexts.say);
- the catalogues are read once, at start-up (`check_catalogues` in the bootstrap); a
  broken file stops the service naming it;
- a page speaks `relais_runtime.i18n.customer_language`: the fallback chain over the
  languages the merchant serves (its declared `locales` the catalogues speak);
- scenario texts carry the merchant's voice, these stay neutral so they fit both tones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache, lru_cache, partial
from typing import Final

from relais_runtime.i18n import (
    SUPPORTED_LANGUAGES,
    CatalogueError,
    PlatformTexts,
    customer_language,
    load_platform_texts,
    served_languages,
)

PACKAGE: Final = "relais_chat"
DOMAIN: Final = "chat"
LANGUAGES: Final = SUPPORTED_LANGUAGES
"""The languages the pages are written in (the default catalogues cover all six)."""


@cache
def platform_texts() -> PlatformTexts:
    return load_platform_texts(PACKAGE, DOMAIN)


def check_catalogues() -> list[str]:
    """Problems that keep the pages from speaking every language (empty: all good)."""
    try:
        texts = platform_texts()
    except CatalogueError as error:
        return [str(error)]
    return [
        f"{PACKAGE}: locale/{language}/LC_MESSAGES/{DOMAIN}.po is missing"
        for language in LANGUAGES
        if language not in texts.languages
    ]


def page_languages(merchant_locales: Iterable[str]) -> tuple[str, ...]:
    """The page languages a merchant serves, its default first (`de-AT` -> `de`)."""
    return served_languages(merchant_locales, LANGUAGES)


def ui_language(locale: str | None, merchant_locales: Sequence[str] = ()) -> str:
    """The page language for a customer's locale among the languages the merchant
    serves (among all of LANGUAGES when no merchant is given)."""
    return _ui_language(locale, tuple(merchant_locales))


@lru_cache(maxsize=1024)
def _ui_language(locale: str | None, merchant_locales: tuple[str, ...]) -> str:
    """Pure: remembered per (locale, merchant's locales), as every page asks it."""
    return customer_language(locale, merchant_locales, LANGUAGES)


def say(language: str, key: str, **values: object) -> str:
    return platform_texts().say(language, key, **values)


def words_for(locale: str | None, merchant_locales: Sequence[str] = ()) -> Callable[..., str]:
    """`t(key, **values)` in the page language of `locale` (see ui_language)."""
    return partial(say, ui_language(locale, merchant_locales))
