"""`relais contracts ...` commands."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from relais_cli.contracts_cmd import app
from relais_contracts.docs import DOCS_DIR

runner = CliRunner()


def test_help_explains_export() -> None:
    result = runner.invoke(app, ["export", "--help"])
    assert result.exit_code == 0
    assert "AsyncAPI" in result.output
    assert "JSON Schema" in result.output


def test_export_writes_schemas_and_asyncapi(tmp_path: Path) -> None:
    target = tmp_path / "x"
    result = runner.invoke(app, ["export", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "asyncapi.json").is_file()
    assert (target / "relais.orders.v1" / "OrderPlaced.v1.schema.json").is_file()
    assert "JSON Schemas" in result.output


def test_docs_check_passes_on_the_committed_docs() -> None:
    result = runner.invoke(app, ["docs", "--check", str(DOCS_DIR)])
    assert result.exit_code == 0, result.output


def test_docs_check_fails_on_stale_docs(tmp_path: Path) -> None:
    (tmp_path / "taxonomy.md").write_text("old")
    result = runner.invoke(app, ["docs", "--check", str(tmp_path)])
    assert result.exit_code == 1


def test_list_names_every_topic() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "relais.shipment-state.v1" in result.output
    assert "cleanup=compact" in result.output
