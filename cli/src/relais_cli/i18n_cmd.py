"""`relais i18n`: are the customer-facing texts complete in every language?

Three kinds of catalogue, one rule (relais_runtime.i18n): every key of the English
reference present and non-empty in every language, with exactly its placeholders.
- gettext catalogues (platform strings): `<package>/locale/<ll>/LC_MESSAGES/<domain>.po`
  of every Relais package, valid .po syntax, no fuzzy entry (gettext would not use it);
- the notifier's message wording (`templates/messages/<language>[.<tone>].yaml`);
- the chat scenarios (one block per language in each text, each tone compared).
`update` adds to every .po catalogue the English keys it lacks, empty and fuzzy, with
the English text as a comment for the translator (Babel's Catalog.update).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import typer
import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from relais_runtime.i18n import (
    DEFAULT_LANGUAGE,
    LOCALE_DIRECTORY,
    SUPPORTED_LANGUAGES,
    CatalogueError,
    compare_texts,
    format_placeholders,
    jinja_placeholders,
    read_catalogue,
)

PACKAGES = (
    "relais_runtime",
    "relais_tracker",
    "relais_detector",
    "relais_notifier",
    "relais_chat",
    "relais_actions",
    "relais_insights",
)
TONES = ("formal", "informal")

app = typer.Typer(
    help="Translations: check every catalogue is complete, add missing keys.",
    no_args_is_help=True,
)


def package_directory(package: str) -> Path:
    module = importlib.import_module(package)
    return Path(str(module.__file__)).parent


def po_domains(root: Path) -> list[str]:
    """The gettext domains of a package: the .po files of its English catalogue."""
    english = root / LOCALE_DIRECTORY / DEFAULT_LANGUAGE / "LC_MESSAGES"
    return sorted(path.stem for path in english.glob("*.po")) if english.is_dir() else []


def _po_files(root: Path, domain: str) -> dict[str, Path]:
    files = {}
    for directory in sorted((root / LOCALE_DIRECTORY).iterdir()):
        source = directory / "LC_MESSAGES" / f"{domain}.po"
        if source.is_file():
            files[directory.name.replace("_", "-")] = source
    return files


def _entries(catalogue: Catalog) -> tuple[dict[str, str], list[str]]:
    """key -> text (fuzzy and empty ones as empty text) and the fuzzy keys."""
    texts, fuzzy = {}, []
    for message in catalogue:
        if not message.id:
            continue
        key = str(message.id)
        texts[key] = message.string if isinstance(message.string, str) else ""
        if message.fuzzy:
            fuzzy.append(key)
    return texts, fuzzy


def po_problems(root: Path, domain: str, *, languages: tuple[str, ...]) -> list[str]:
    """Every problem of one gettext domain, each naming its file."""
    files = _po_files(root, domain)
    try:
        english, _ = _entries(read_catalogue(files[DEFAULT_LANGUAGE], language="en", domain=domain))
    except CatalogueError as error:
        return [str(error)]
    problems = [
        f"{files[DEFAULT_LANGUAGE]}: {key}: empty" for key, text in english.items() if not text
    ]
    problems.extend(
        f"{root / LOCALE_DIRECTORY}/{language}: no {domain}.po"
        for language in languages
        if language not in files
    )
    for language, source in files.items():
        if language == DEFAULT_LANGUAGE:
            continue
        try:
            texts, fuzzy = _entries(read_catalogue(source, language=language, domain=domain))
        except CatalogueError as error:
            problems.append(str(error))
            continue
        found = compare_texts(english, texts, placeholders=format_placeholders)
        found.extend(f"{key}: fuzzy (to review)" for key in fuzzy if texts.get(key))
        problems.extend(f"{source}: {problem}" for problem in found)
    return problems


def update_po(root: Path, domain: str, *, languages: tuple[str, ...]) -> dict[Path, list[str]]:
    """Adds the English keys each language lacks (empty, fuzzy), creating the missing
    catalogues of `languages`; keys English no longer has become obsolete (`#~`).
    Returns the keys added per file (files with none added are not rewritten)."""
    files = _po_files(root, domain)
    english = read_catalogue(files[DEFAULT_LANGUAGE], language="en", domain=domain)
    template = Catalog(domain=domain)
    for message in english:
        if message.id and isinstance(message.string, str):
            template.add(message.id, "", auto_comments=[message.string])
    added: dict[Path, list[str]] = {}
    for language in sorted(set(languages) | set(files)):
        if language == DEFAULT_LANGUAGE:
            continue
        target = files.get(language) or (
            root / LOCALE_DIRECTORY / language.replace("-", "_") / "LC_MESSAGES" / f"{domain}.po"
        )
        catalogue = (
            read_catalogue(target, language=language, domain=domain)
            if target.is_file()
            else Catalog(locale=language.replace("-", "_"), domain=domain)
        )
        before = {str(message.id) for message in catalogue if message.id}
        catalogue.update(template, no_fuzzy_matching=True, update_creation_date=False)
        new = [
            str(message.id) for message in catalogue if message.id and str(message.id) not in before
        ]
        for key in new:
            catalogue[key].flags.add("fuzzy")
        if new or not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as stream:
                write_po(stream, catalogue, width=100, sort_output=True)
            added[target] = new
    return added


def _text_variants(value: Any) -> dict[str, str] | None:
    """A scenario text in one language: one string for both tones, or one per tone."""
    if isinstance(value, str):
        return {tone: value for tone in TONES}
    if isinstance(value, Mapping) and set(value) <= set(TONES):
        return {tone: str(value.get(tone) or "") for tone in TONES}
    return None


def _texts(node: Any, path: str, languages: set[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        if node and DEFAULT_LANGUAGE in node and set(node) <= languages:
            yield path, node
            return
        for key, value in node.items():
            yield from _texts(value, f"{path}.{key}" if path else str(key), languages)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _texts(value, f"{path}.{index}", languages)


def scenario_problems(directory: Path, *, languages: tuple[str, ...]) -> list[str]:
    """Every text of every scenario file: `languages` and those the file declares, each
    tone, the English placeholders."""
    problems = []
    for source in sorted(directory.rglob("*.yaml")):
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        known = set(SUPPORTED_LANGUAGES) | set(data.get("languages") or ())
        texts = list(_texts(data, "", known))
        declared = set(data.get("languages") or ()) | set(languages)
        for path, text in texts:
            english = _text_variants(text[DEFAULT_LANGUAGE]) or {}
            for language in sorted(declared - {DEFAULT_LANGUAGE}):
                variants = _text_variants(text.get(language)) if language in text else None
                if variants is None:
                    problems.append(f"{source}: {path}.{language}: missing")
                    continue
                found = compare_texts(english, variants, placeholders=jinja_placeholders)
                problems.extend(f"{source}: {path}.{language}.{problem}" for problem in found)
    return problems


def all_problems(languages: tuple[str, ...] = SUPPORTED_LANGUAGES) -> list[str]:
    from relais_notifier.texts.translations import message_catalogue_problems

    problems = []
    for package in PACKAGES:
        root = package_directory(package)
        for domain in po_domains(root):
            problems.extend(po_problems(root, domain, languages=languages))
    notifier_messages = package_directory("relais_notifier") / "templates" / "messages"
    problems.extend(
        f"{notifier_messages}/{problem}" for problem in message_catalogue_problems(languages)
    )
    scenarios = package_directory("relais_chat") / "scenarios"
    problems.extend(scenario_problems(scenarios, languages=languages))
    return problems


@app.command("check")
def check_cmd() -> None:
    """Verify every catalogue of every service against English; exit 1 on a problem.

    Example: relais i18n check
    """
    problems = all_problems()
    for problem in problems:
        typer.echo(problem)
    if problems:
        typer.echo(f"{len(problems)} translation problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"every catalogue complete in {', '.join(SUPPORTED_LANGUAGES)}")


@app.command("update")
def update_cmd() -> None:
    """Add the English keys missing from every .po catalogue (empty, fuzzy), creating
    the catalogue of a supported language that has none; then translate them and run
    `relais i18n check`.

    Example: relais i18n update
    """
    for package in PACKAGES:
        root = package_directory(package)
        for domain in po_domains(root):
            for path, keys in update_po(root, domain, languages=SUPPORTED_LANGUAGES).items():
                typer.echo(
                    f"{path}: {len(keys)} key(s) added" + (f": {', '.join(keys)}" if keys else "")
                )
