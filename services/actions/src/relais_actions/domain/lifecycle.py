"""An action's lifecycle, as the `actions.state` column records it.

Rule: an action is pending from its decision until its one result, then completed or
failed for good (a closed action is never reopened). A refused action is failed from
the start: it never was pending.
"""

from __future__ import annotations

from enum import StrEnum


class ActionState(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
