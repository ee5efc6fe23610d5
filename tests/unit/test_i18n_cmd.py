"""`relais i18n check|update`: the repository's catalogues are complete, and the check
finds each kind of problem on a small copy."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from relais_cli import i18n_cmd
from relais_cli.main import app
from relais_runtime.i18n import read_catalogue

LANGUAGES = ("en", "de", "nl")


def test_every_catalogue_of_every_service_is_complete() -> None:
    """The same check as `relais i18n check`, on the repository itself."""
    assert i18n_cmd.all_problems() == []


def test_the_command_prints_and_exits_like_the_check() -> None:
    result = CliRunner().invoke(app, ["i18n", "check"])
    assert result.exit_code == (1 if i18n_cmd.all_problems() else 0), result.output


def write_po(root: Path, language: str, entries: str) -> Path:
    path = root / "locale" / language / "LC_MESSAGES" / "pages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
    path.write_text(header + entries, encoding="utf-8")
    return path


def test_po_problems_are_named_with_their_file(tmp_path: Path) -> None:
    write_po(
        tmp_path,
        "en",
        'msgid "greet"\nmsgstr "Hello {name}"\n\nmsgid "bye"\nmsgstr "Bye"\n\n'
        'msgid "count"\nmsgstr "{count} parcels"\n',
    )
    german = write_po(
        tmp_path,
        "de",
        'msgid "greet"\nmsgstr "Hallo {nom}"\n\n#, fuzzy\nmsgid "bye"\nmsgstr "Tschüss"\n',
    )
    assert i18n_cmd.po_domains(tmp_path) == ["pages"]
    assert i18n_cmd.po_problems(tmp_path, "pages", languages=LANGUAGES) == [
        f"{tmp_path / 'locale'}/nl: no pages.po",
        f"{german}: greet: placeholder {{name}} missing",
        f"{german}: greet: unknown placeholder {{nom}}",
        f"{german}: count: missing",
        f"{german}: bye: fuzzy (to review)",
    ]


def test_invalid_po_syntax_is_a_problem(tmp_path: Path) -> None:
    write_po(tmp_path, "en", 'msgid "greet"\nmsgstr "Hello"\n')
    broken = write_po(tmp_path, "de", 'msgid "greet"\nmsgstr "Hallo\n')
    problems = i18n_cmd.po_problems(tmp_path, "pages", languages=("en", "de"))
    assert len(problems) == 1
    assert problems[0].startswith(str(broken))


def test_update_adds_missing_keys_empty_and_fuzzy_and_keeps_translations(tmp_path: Path) -> None:
    write_po(tmp_path, "en", 'msgid "greet"\nmsgstr "Hello {name}"\n\nmsgid "bye"\nmsgstr "Bye"\n')
    german = write_po(tmp_path, "de", 'msgid "greet"\nmsgstr "Hallo {name}"\n')
    added = i18n_cmd.update_po(tmp_path, "pages", languages=LANGUAGES)
    dutch = tmp_path / "locale" / "nl" / "LC_MESSAGES" / "pages.po"
    assert added == {german: ["bye"], dutch: ["greet", "bye"]}
    catalogue = read_catalogue(german, language="de", domain="pages")
    assert catalogue["greet"].string == "Hallo {name}"
    assert not catalogue["greet"].fuzzy
    assert catalogue["bye"].string == ""
    assert catalogue["bye"].fuzzy
    assert "Bye" in catalogue["bye"].auto_comments
    # Now the check says what is left to translate, and a second update adds nothing.
    assert f"{german}: bye: empty" in i18n_cmd.po_problems(tmp_path, "pages", languages=LANGUAGES)
    assert i18n_cmd.update_po(tmp_path, "pages", languages=LANGUAGES) == {}


def test_scenario_texts_need_every_language_tone_and_placeholder(tmp_path: Path) -> None:
    (tmp_path / "lost.yaml").write_text(
        """
languages: [en, de]
nodes:
  hello:
    text:
      en: "Hello {{ first_name }}, order {{ order_number }}"
      de:
        formal: "Guten Tag {{ first_name }}, Bestellung {{ order_number }}"
        informal: "Hi {{ first_name }}"
    choices:
      - label: {en: "Refund me", fr: "Être remboursé"}
""",
        encoding="utf-8",
    )
    source = tmp_path / "lost.yaml"
    assert i18n_cmd.scenario_problems(tmp_path, languages=("en", "de", "nl")) == [
        f"{source}: nodes.hello.text.de.informal: placeholder {{order_number}} missing",
        f"{source}: nodes.hello.text.nl: missing",
        f"{source}: nodes.hello.choices.0.label.de: missing",
        f"{source}: nodes.hello.choices.0.label.nl: missing",
    ]
