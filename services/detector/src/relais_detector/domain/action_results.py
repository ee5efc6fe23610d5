"""What an action's result does to the anomaly it was taken for."""

from __future__ import annotations

from datetime import datetime

from relais_contracts.catalogue import EscalationReason, ResolutionReason
from relais_contracts.topics.action_results import ActionCompleted, ActionFailed
from relais_detector.domain.decision import Decision, DecisionBuilder
from relais_detector.domain.evaluation import decide
from relais_detector.domain.facts import ShipmentFacts
from relais_detector.domain.memory import Memory
from relais_detector.domain.rules import graver
from relais_runtime.merchants.detection import DetectionPolicy


def on_action_result(
    *,
    result: ActionCompleted | ActionFailed,
    facts: ShipmentFacts,
    memory: Memory,
    policy: DetectionPolicy,
    now: datetime,
) -> Decision:
    """A completed action resolves its anomaly; a failed one handed to a human escalates it.

    A result for an anomaly that is not open (already resolved, or unknown) changes
    nothing but the timers. The facts are then evaluated at `now` as for any input.
    """
    builder = DecisionBuilder(facts, memory, now)
    record = next((r for r in builder.open_records() if r.anomaly_id == result.anomaly_id), None)
    if record is not None and isinstance(result, ActionCompleted):
        builder.resolve(
            record,
            ResolutionReason.ACTION_COMPLETED,
            cause_event_id=result.event_id,
            action_id=result.action_id,
        )
    elif record is not None and isinstance(result, ActionFailed) and result.escalated:
        builder.escalate(
            record,
            EscalationReason.ACTION_FAILED,
            severity=graver(record.severity),
            cause_event_id=result.event_id,
        )
    return decide(builder, policy, cause_event_id=result.event_id)
