"""Reading scenario packs: one directory per pack, one YAML file per scenario.

The built-in `default` pack ships with the chat; `RELAIS_SCENARIOS_DIR` adds one
pack per sub-directory. Files starting with `_` are fragments, read only when a
scenario includes them (`include: [name]` reads `_name.yaml` beside it). Every
problem, unreadable file, invalid YAML or invalid content, is a ScenarioError naming
the file (and the node).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from relais_chat.domain.scenarios import Fragment, Scenario, ScenarioError, ScenarioFile, assemble

M = TypeVar("M", bound=BaseModel)

DEFAULT_PACK = Path(__file__).parent.parent / "scenarios" / "default"


def pack_directories(extra: Path | None) -> list[Path]:
    """The default pack, then every sub-directory of `extra` (sorted)."""
    if extra is not None and not extra.is_dir():
        raise ScenarioError(f"{extra}: scenarios_dir (RELAIS_SCENARIOS_DIR): not a directory")
    packs = sorted(path for path in extra.iterdir() if path.is_dir()) if extra else []
    return [DEFAULT_PACK, *packs]


def load_pack(directories: Iterable[Path]) -> dict[str, Scenario]:
    """Every scenario of every pack directory, validated; all problems at once."""
    scenarios: dict[str, Scenario] = {}
    problems: list[str] = []
    for directory in directories:
        if not directory.is_dir():
            raise ScenarioError(f"{directory}: not a directory of scenarios")
        for path in sorted(directory.glob("*.yaml")):
            if path.name.startswith("_"):
                continue
            try:
                scenario = load_scenario(path, scenario_id=f"{directory.name}/{path.stem}")
            except ScenarioError as error:
                problems.append(str(error))
                continue
            if scenario.scenario_id in scenarios:
                problems.append(f"{path}: scenario id {scenario.scenario_id!r} is defined twice")
            scenarios[scenario.scenario_id] = scenario
    if problems:
        raise ScenarioError("\n".join(problems))
    return scenarios


def load_scenario(path: Path, *, scenario_id: str) -> Scenario:
    parsed = _parse(ScenarioFile, path)
    fragments = {name: _parse(Fragment, path.parent / f"_{name}.yaml") for name in parsed.include}
    return assemble(parsed, fragments=fragments, scenario_id=scenario_id, source=path)


def _parse(model: type[M], path: Path) -> M:
    try:
        return model.model_validate(_read(path))
    except ValidationError as error:
        raise ScenarioError(_describe(path, error)) from None


def _read(path: Path) -> Any:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{path}: cannot be read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: not valid YAML: {error}") from None
    return data


def _describe(path: Path, error: ValidationError) -> str:
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        location = [str(part) for part in problem["loc"]]
        where = (
            f"node {location[1]!r}: {'.'.join(location[2:])}"
            if len(location) > 1 and location[0] == "nodes"
            else ".".join(location) or "(root)"
        )
        lines.append(f"{path}: {where}: {problem['msg']}")
    return "\n".join(lines)
