"""Shared pieces for the chat's unit tests (pure: no I/O besides reading the pack)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from relais_chat.adapters.scenario_files import DEFAULT_PACK, load_pack
from relais_chat.domain.forms import FormContext
from relais_chat.domain.scenarios import FieldKind, Scenario

REPO = Path(__file__).resolve().parents[3]

VALID_INPUT: dict[FieldKind | str, dict[str, str]] = {
    FieldKind.ADDRESS: {"line1": "12 rue des Lilas", "postal_code": "75011", "city": "Paris"},
    FieldKind.PHONE: {"phone": "06 12 34 56 78"},
    FieldKind.DATE: {"day": "2026-11-05"},
    FieldKind.SLOT: {"day": "2026-11-05", "period": "morning"},
    FieldKind.TEXT: {"text": "Not what I ordered"},
    FieldKind.PICKUP_POINT: {
        "point_id": "FR-066124",
        "point_name": "Tabac de la Gare",
        "line1": "3 place de la Gare",
        "postal_code": "69003",
        "city": "Lyon",
    },
    "survey": {"csat": "4", "comment": "Quick and friendly"},
    "escalation": {"phone": "+33612345678", "day": "2026-11-05", "period": "afternoon"},
}
"""A valid answer for every input kind, for CONTEXT's dates (Monday 2026-11-02)."""

CONTEXT = FormContext(
    today=date(2026, 11, 2),
    time_zone=ZoneInfo("Europe/Paris"),
    country="FR",
    pickup_network="mondial_relay",
)


@pytest.fixture(scope="session")
def pack() -> dict[str, Scenario]:
    return load_pack([DEFAULT_PACK])
