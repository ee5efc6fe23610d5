"""Deterministic ids of what the actions service produces.

Rule: a redelivery or a replay re-creates the same ids, so consumers (and this
service's own claim table) drop the duplicates.
"""

from __future__ import annotations

from uuid import UUID

from relais_contracts.ids import derived_id


def command_event_id(action_id: UUID, attempt: int) -> UUID:
    """Attempt 1 is the action id itself; each retry gets its own event id."""
    if attempt == 1:
        return action_id
    return derived_id("action-command", str(action_id), str(attempt))


def result_event_id(action_id: UUID) -> UUID:
    """One result per action, whichever way it ended."""
    return derived_id("action-result", str(action_id))


def dead_letter_event_id(action_id: UUID) -> UUID:
    return derived_id("action-dead-letter", str(action_id))
