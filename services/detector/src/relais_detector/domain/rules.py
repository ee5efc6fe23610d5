"""How each anomaly type lives once open: what clears it, what supersedes it, when a new
episode escalates it instead of opening a second occurrence."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from relais_contracts.catalogue import AnomalyType, Severity

A = AnomalyType


class Clears(StrEnum):
    WHEN_CONDITION_ENDS = "when_condition_ends"
    WHEN_DELIVERED = "when_delivered"
    NEVER = "never"


CLEARS: Final[dict[AnomalyType, Clears]] = {
    A.PREPARATION_DELAY: Clears.WHEN_CONDITION_ENDS,
    A.DELIVERY_LATE: Clears.WHEN_CONDITION_ENDS,
    A.STALLED: Clears.WHEN_CONDITION_ENDS,
    A.LOST: Clears.WHEN_CONDITION_ENDS,
    A.FAILED_ATTEMPT: Clears.WHEN_DELIVERED,
    A.ADDRESS_PROBLEM: Clears.WHEN_DELIVERED,
    A.RETURNED_TO_SENDER: Clears.NEVER,
    A.DAMAGED: Clears.NEVER,
    A.REFUSED: Clears.NEVER,
    A.PICKUP_READY: Clears.WHEN_CONDITION_ENDS,
    A.PICKUP_HOLD_EXPIRING: Clears.WHEN_CONDITION_ENDS,
    A.DELIVERED_TO_THIRD_PARTY: Clears.NEVER,
    A.HELD_AT_CUSTOMS: Clears.WHEN_CONDITION_ENDS,
}

SUPERSEDES: Final[dict[AnomalyType, frozenset[AnomalyType]]] = {
    A.LOST: frozenset({A.STALLED, A.DELIVERY_LATE}),
    A.PICKUP_HOLD_EXPIRING: frozenset({A.PICKUP_READY}),
    A.RETURNED_TO_SENDER: frozenset(
        {
            A.DELIVERY_LATE,
            A.STALLED,
            A.LOST,
            A.FAILED_ATTEMPT,
            A.ADDRESS_PROBLEM,
            A.DAMAGED,
            A.REFUSED,
            A.PICKUP_READY,
            A.PICKUP_HOLD_EXPIRING,
            A.HELD_AT_CUSTOMS,
        }
    ),
}
"""Graver type -> the lighter types it replaces."""

ESCALATES_ON_NEW_EPISODE: Final = frozenset({A.FAILED_ATTEMPT})
"""Types for which a new episode while open escalates (a second failed attempt)
instead of opening a second occurrence."""


def superseding(kind: AnomalyType, present: Iterable[AnomalyType]) -> AnomalyType | None:
    """The graver type among `present` that replaces `kind`, if any."""
    for graver in present:
        if kind in SUPERSEDES.get(graver, frozenset()):
            return graver
    return None


def graver(severity: Severity) -> Severity:
    """An escalation for a worse fact raises a warning to critical, an info to a warning."""
    return Severity.CRITICAL if severity is not Severity.INFO else Severity.WARNING
