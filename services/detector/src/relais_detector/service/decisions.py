"""Storing a decision: everything it changes commits in the caller's transaction, which
holds the shipment's row lock (repository's locking rule)."""

from __future__ import annotations

from typing import assert_never

from relais_contracts.registry import Topic
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyEvent,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_detector import repository
from relais_detector.domain import Decision, ShipmentFacts
from relais_runtime.db import DbConnection
from relais_runtime.metrics import ANOMALY_DECISIONS
from relais_runtime.outbox import enqueue


async def apply_decision(
    connection: DbConnection, *, facts: ShipmentFacts, decision: Decision, topic: Topic
) -> None:
    """Persist a decision: facts, milestones, anomaly records, the timer set, and its
    events in the outbox."""
    key = {"merchant_id": facts.merchant_id, "shipment_id": facts.shipment_id}
    await repository.update_shipment(connection, facts=facts, milestones=decision.milestones)
    if decision.records:
        await repository.update_anomalies(connection, **key, records=decision.records)
    await repository.update_timers(connection, **key, timers=decision.timers)
    if decision.events:
        await enqueue(connection, topic=topic, events=decision.events)
    for event in decision.events:
        ANOMALY_DECISIONS.labels(kind=decided_kind(event), decision=event.event_type).inc()


def decided_kind(event: AnomalyEvent) -> str:
    """What a decision is about, as counted: the anomaly type, or the milestone reached."""
    match event:
        case AnomalyDetected() | AnomalyEscalated() | AnomalyResolved():
            return event.anomaly_type.value
        case ShipmentMilestoneReached():
            return event.milestone.value
        case _:
            assert_never(event)
