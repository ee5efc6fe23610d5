"""Every carrier code table: valid (status, substatus) pairs, incidents on problems,
refinements that can match and only narrow codes the table knows, a cited source."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from relais_contracts.tracking import IncidentReason, Substatus, TrackingStatus, status_of
from relais_tracker.adapters.carriers import (
    bpost,
    chronopost,
    colissimo,
    correos,
    dhl,
    dpd,
    dpd_push,
    evri,
    fedex,
    gls,
    gls_track_trace,
    inpost,
    karrio,
    mondial_relay,
    postnl,
    royal_mail,
    seventeen_track,
    ups_codes,
)
from relais_tracker.adapters.carriers._common import fold

MODULES = (
    chronopost,
    colissimo,
    dhl,
    dpd,
    dpd_push,
    fedex,
    gls,
    gls_track_trace,
    mondial_relay,
    ups_codes,
    royal_mail,
    postnl,
    inpost,
    evri,
    bpost,
    correos,
    seventeen_track,
    karrio,
)
PROBLEMS = {TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT}


def _is_mapping(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], TrackingStatus)


def _mappings(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    if _is_mapping(value):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _mappings(item, f"{where}[{key!r}]")
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _mappings(item, f"{where}[{index}]")


def _tables(module: ModuleType) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.isupper()
        and not name.startswith("_")
        and isinstance(value, dict | tuple)
        and any(_mappings(value, name))
    }


def _all_entries() -> list[tuple[str, Any]]:
    return [
        (f"{module.__name__.rsplit('.', 1)[-1]}.{where}", mapping)
        for module in MODULES
        for name, table in _tables(module).items()
        for where, mapping in _mappings(table, name)
    ]


@pytest.mark.parametrize(("where", "mapping"), _all_entries(), ids=lambda item: str(item)[:60])
def test_every_entry_maps_to_a_valid_pair_and_a_known_incident(where: str, mapping: Any) -> None:
    status, substatus, reason = mapping

    assert isinstance(substatus, Substatus), where
    assert status_of(substatus) is status, where
    assert reason is None or isinstance(reason, IncidentReason), where
    if status in PROBLEMS:
        assert reason is not None, f"{where}: a problem needs an incident reason"


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_each_adapter_has_code_tables_citing_their_source(module: ModuleType) -> None:
    tables = _tables(module)
    source = inspect.getsource(module)

    assert tables
    assert source.count("# Source:") >= len(
        [name for name in tables if not name.endswith(("REFINEMENTS", "LABELS"))]
    )


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_refinements_only_narrow_known_codes_with_matchable_keywords(module: ModuleType) -> None:
    tables = _tables(module)
    codes = {
        code
        for name, table in tables.items()
        if not name.endswith("REFINEMENTS") and isinstance(table, dict)
        for code in table
    }
    for name, table in tables.items():
        if name.endswith("REFINEMENTS"):
            assert set(table) <= codes, f"{name} refines codes its tables do not know"
        if name.endswith(("REFINEMENTS", "LABELS")):
            keywords = [
                keyword
                for pairs in (table.values() if isinstance(table, dict) else [table])
                for keyword, _ in pairs
            ]
            assert all(keyword == fold(keyword) for keyword in keywords), name


def test_adapters_share_no_code_table_object() -> None:
    tables = [id(table) for module in MODULES for table in _tables(module).values()]

    assert len(tables) == len(set(tables))
