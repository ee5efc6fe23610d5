"""A schema at the newest revision is recognised without Alembic: the revision files'
own lines must name the same head as Alembic reads from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from relais_runtime.migrations import ALEMBIC_DIR, head_revision

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = sorted(ROOT.glob("services/*/src/relais_*/migrations/versions"))


@pytest.mark.parametrize("versions_dir", VERSIONS, ids=lambda path: path.parts[-4])
def test_the_head_read_from_the_files_is_alembic_s(versions_dir: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("version_locations", str(versions_dir))
    config.set_main_option("path_separator", "os")
    assert [head_revision(versions_dir)] == ScriptDirectory.from_config(config).get_heads()


def test_two_heads_or_an_annotated_revision_line_are_read_as_alembic_would(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision: str = "b"\ndown_revision: str | None = "a"\n')
    assert head_revision(tmp_path) == "b"
    (tmp_path / "c.py").write_text("revision = 'c'\ndown_revision = 'a'\n")
    assert head_revision(tmp_path) is None, "two heads: Alembic decides"
