"""Customer languages: which one a customer gets, platform strings from gettext
catalogues, and the completeness check every catalogue passes.

Rules:
- a locale is a BCP 47 tag (`de-AT`, `nl-BE`; `de_AT` is read the same way); the
  language is picked along one chain: the exact tag if a catalogue has it, then the
  tag with its last subtag dropped until only the language is left, then the
  merchant's languages the same way (the default, its first, before the others),
  then English (`fallback_chain`, `pick_language`);
- a customer reads the language that chain gives among the languages the merchant
  serves: its declared `locales`, narrowed to what the catalogues speak
  (`customer_language`, the rule of every page, message and scenario);
- platform strings (the fixed words of pages and emails) live in
  `<package>/locale/<ll[_RR]>/LC_MESSAGES/<domain>.po`, read at start-up with Babel's
  `read_po`: the msgid is a stable key, the English catalogue holds the English text,
  placeholders are Python's `{name}`; an invalid file is a `CatalogueError` naming it;
  a key a language lacks (absent, empty or fuzzy) is said in English, never as a hole;
- a translation is complete when it has every key of the English reference, none
  empty, none unknown to English, and each with exactly the placeholders of its
  English text (`{name}` in .po files, Jinja `{{ name }}` in merchant-overridable YAML).
"""

from __future__ import annotations

import io
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final

from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po
from jinja2 import Environment, TemplateSyntaxError, meta

SUPPORTED_LANGUAGES: Final = ("en", "fr", "de", "es", "it", "nl")
"""The languages every customer-facing text is written in."""
DEFAULT_LANGUAGE: Final = "en"
LOCALE_DIRECTORY: Final = "locale"

_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_jinja = Environment(autoescape=True)


class CatalogueError(Exception):
    """A catalogue file cannot be read (bad .po syntax, a key without text)."""


def normalize_tag(tag: str | None) -> str | None:
    """`de_at` -> `de-AT`, `zh-hant-tw` -> `zh-Hant-TW`; None for what is not a tag
    (empty, `und`, `*`, garbage)."""
    if not tag or not _TAG.match(tag.strip()):
        return None
    language, *rest = re.split(r"[-_]", tag.strip())
    if language.lower() == "und":
        return None
    subtags = [language.lower()]
    for subtag in rest:
        if len(subtag) == 2 or (len(subtag) == 3 and subtag.isdigit()):
            subtags.append(subtag.upper())
        elif len(subtag) == 4 and subtag.isalpha():
            subtags.append(subtag.title())
        else:
            subtags.append(subtag.lower())
    return "-".join(subtags)


def _narrowing(tag: str | None) -> list[str]:
    normalized = normalize_tag(tag)
    if normalized is None:
        return []
    subtags = normalized.split("-")
    return ["-".join(subtags[:end]) for end in range(len(subtags), 0, -1)]


def fallback_chain(customer_locale: str | None, merchant_locales: Iterable[str] = ()) -> list[str]:
    """Every tag to try, best first: `de-AT` with merchant `[fr, en]` gives
    `[de-AT, de, fr, en]`."""
    chain: list[str] = []
    for tag in (customer_locale, *merchant_locales, DEFAULT_LANGUAGE):
        chain.extend(candidate for candidate in _narrowing(tag) if candidate not in chain)
    return chain


def pick_language(
    customer_locale: str | None,
    available: Iterable[str],
    merchant_locales: Iterable[str] = (),
) -> str:
    """The first tag of the fallback chain that `available` holds, spelled as
    `available` spells it; when none does (no English either), the first available."""
    spelled = {normalize_tag(tag): tag for tag in available}
    for candidate in fallback_chain(customer_locale, merchant_locales):
        if candidate in spelled:
            return spelled[candidate]
    if not spelled:
        raise ValueError("no language available")
    return next(iter(spelled.values()))


def served_languages(
    merchant_locales: Iterable[str], available: Iterable[str] = SUPPORTED_LANGUAGES
) -> tuple[str, ...]:
    """The languages of `available` a merchant serves, its default first: each of its
    declared locales narrowed until `available` has it (`de-AT` -> `de`); a declared
    locale no catalogue speaks adds nothing."""
    spelled = {normalize_tag(tag): tag for tag in available}
    served: list[str] = []
    for locale in merchant_locales:
        found = next((spelled[tag] for tag in _narrowing(locale) if tag in spelled), None)
        if found is not None and found not in served:
            served.append(found)
    return tuple(served)


def customer_language(
    customer_locale: str | None,
    merchant_locales: Sequence[str],
    available: Iterable[str] = SUPPORTED_LANGUAGES,
) -> str:
    """The one language rule of every customer-facing text (pages, messages, scenarios):
    `pick_language` over the languages the merchant serves, so a `de-AT` customer of a
    merchant serving `de` reads German and one whose language the merchant does not
    serve reads the merchant's default; a merchant serving none of `available` falls
    back to `available` as a whole."""
    offered = tuple(available)
    return pick_language(
        customer_locale, served_languages(merchant_locales, offered) or offered, merchant_locales
    )


def format_placeholders(text: str) -> frozenset[str]:
    """The names of the `{name}` fields of a Python format string (`{{` is a brace);
    a malformed one is a ValueError."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    return frozenset(names)


def jinja_placeholders(text: str) -> frozenset[str]:
    """The variables a Jinja template reads (`{{ carrier or 'The carrier' }}` and
    `{% if carrier %}` read `carrier`); a malformed template is a ValueError."""
    try:
        return frozenset(meta.find_undeclared_variables(_jinja.parse(text)))
    except TemplateSyntaxError as error:
        raise ValueError(f"bad template syntax: {error.message}") from None


def compare_texts(
    reference: Mapping[str, str],
    translation: Mapping[str, str],
    *,
    placeholders: Callable[[str], frozenset[str]],
    partial: bool = False,
) -> list[str]:
    """Problems of `translation` against the English `reference` (flat key -> text).
    `partial`: an overlay, which may leave keys out but adds none."""
    problems = [
        f"{key}: not in the English catalogue" for key in translation if key not in reference
    ]
    for key, english in reference.items():
        text = translation.get(key)
        if text is None:
            if not partial:
                problems.append(f"{key}: missing")
            continue
        if not text.strip():
            problems.append(f"{key}: empty")
            continue
        problems.extend(
            f"{key}: {problem}" for problem in _placeholder_problems(english, text, placeholders)
        )
    return problems


def _placeholder_problems(
    english: str, text: str, placeholders: Callable[[str], frozenset[str]]
) -> list[str]:
    try:
        expected = placeholders(english)
    except ValueError:
        return []  # the English catalogue's own problem, reported against English
    try:
        found = placeholders(text)
    except ValueError as error:
        return [str(error)]
    problems = [f"placeholder {{{name}}} missing" for name in sorted(expected - found)]
    problems.extend(f"unknown placeholder {{{name}}}" for name in sorted(found - expected))
    return problems


def flatten(texts: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested YAML texts as flat keys: `{"shipped": {"body": ["a", "b"]}}` ->
    `{"shipped.body.0": "a", "shipped.body.1": "b"}`; non-text leaves are skipped."""
    flat: dict[str, str] = {}
    for key, value in texts.items():
        path = f"{prefix}{key}"
        for leaf_key, leaf in _leaves(path, value):
            flat[leaf_key] = leaf
    return flat


def _leaves(path: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        yield from flatten(value, f"{path}.").items()
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(f"{path}.{index}", item)


# --- gettext catalogues -------------------------------------------------------------


_PO_LINE = re.compile(
    r'^(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?"(?:[^"\\]|\\.)*"\s*$'
)


def _syntax_error(text: str) -> str | None:
    """The first line that is neither blank, a comment, nor a keyword with one quoted
    string (Babel's reader would silently drop the last character of an unclosed one)."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not _PO_LINE.match(stripped):
            return f"line {number}: not a keyword and one quoted string: {stripped[:40]!r}"
    return None


def read_catalogue(source: Traversable, *, language: str, domain: str) -> Catalog:
    """One .po file, strictly: a syntax error is a CatalogueError naming the file."""
    try:
        raw = source.read_bytes()
        problem = _syntax_error(raw.decode("utf-8"))
        if problem:
            raise CatalogueError(f"{source}: {problem}")
        return read_po(
            io.BytesIO(raw), locale=language.replace("-", "_"), domain=domain, abort_invalid=True
        )
    except (PoFileError, ValueError, UnicodeDecodeError) as error:
        raise CatalogueError(f"{source}: {error}") from None


def catalogue_files(root: Traversable, domain: str) -> dict[str, Traversable]:
    """language tag -> `<root>/locale/<ll[_RR]>/LC_MESSAGES/<domain>.po`, for every
    language directory that has one."""
    locale_root = root / LOCALE_DIRECTORY
    if not locale_root.is_dir():
        return {}
    found = {}
    for directory in sorted(locale_root.iterdir(), key=lambda entry: entry.name):
        source = directory / "LC_MESSAGES" / f"{domain}.po"
        tag = normalize_tag(directory.name)
        if tag is not None and source.is_file():
            found[tag] = source
    return found


def catalogue_texts(catalogue: Catalog) -> dict[str, str]:
    """key -> text, leaving out empty and fuzzy entries (gettext does not use them)."""
    return {
        str(message.id): str(message.string)
        for message in catalogue
        if message.id and isinstance(message.string, str) and message.string and not message.fuzzy
    }


@dataclass(frozen=True)
class PlatformTexts:
    """The fixed words of one service, in every language its catalogues have."""

    domain: str
    texts: Mapping[str, Mapping[str, str]]
    """language tag -> key -> text."""

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def pick(self, customer_locale: str | None, merchant_locales: Sequence[str] = ()) -> str:
        return pick_language(customer_locale, self.texts, merchant_locales)

    def say(self, language: str, key: str, **values: object) -> str:
        """The text of `key`, in English when `language` lacks it; an unknown key is a
        KeyError (a programming error, caught by the tests)."""
        text = self.texts.get(language, {}).get(key) or self.texts[DEFAULT_LANGUAGE][key]
        return text.format(**values) if values else text


def load_platform_texts(package: str, domain: str) -> PlatformTexts:
    """Every catalogue of `domain` in `package`; the English one must exist."""
    files = catalogue_files(resources.files(package), domain)
    if DEFAULT_LANGUAGE not in files:
        raise CatalogueError(
            f"{package}: no {LOCALE_DIRECTORY}/{DEFAULT_LANGUAGE}/LC_MESSAGES/{domain}.po"
        )
    texts = {
        language: catalogue_texts(read_catalogue(source, language=language, domain=domain))
        for language, source in files.items()
    }
    return PlatformTexts(domain=domain, texts=texts)
