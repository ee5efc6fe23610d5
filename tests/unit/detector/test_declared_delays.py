"""A merchant-declared delay: told at once, once per declaration, and the new promise
replaces the old one (no second "late" for the old promise)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.shipment import DeclaredDelay, DelayReason
from relais_contracts.topics import shipment_state
from relais_contracts.topics.anomalies import AnomalyDetected, AnomalyResolved
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_detector import domain
from relais_detector.domain import Decision, Memory, ShipmentFacts, TimerKind
from relais_runtime.merchants.detection import DetectionPolicy

POLICY = DetectionPolicy(stalled_after_hours=480, lost_after_hours=960)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def base_state() -> ShipmentStateChanged:
    path = shipment_state.TOPIC.examples_dir() / "ShipmentStateChanged-en-order-placed.json"
    state = shipment_state.TOPIC.decode(path.read_bytes())
    assert isinstance(state, ShipmentStateChanged)
    return state


def not_shipped(**changes: Any) -> ShipmentStateChanged:
    return base_state().model_copy(
        update={
            "carrier": None,
            "tracking_number": None,
            "substatus": Substatus.AWAITING_SHIPMENT,
            "shipped_at": None,
            "placed_at": T0 - timedelta(days=1),
            "status_since": T0 - timedelta(days=1),
            "promised_ship_by": T0 + timedelta(hours=8),
            "promised_delivery_by": date(2026, 11, 4),
            **changes,
        }
    )


def in_transit(**changes: Any) -> ShipmentStateChanged:
    return base_state().model_copy(
        update={
            "status": TrackingStatus.IN_TRANSIT,
            "substatus": Substatus.ARRIVED_AT_FACILITY,
            "shipped_at": T0 - timedelta(days=1),
            "status_since": T0 - timedelta(days=1),
            "promised_delivery_by": date(2026, 11, 3),
            **changes,
        }
    )


def declared(at: datetime, **dates: Any) -> DeclaredDelay:
    return DeclaredDelay(
        reason=DelayReason.STOCK, note="Back in stock Monday", declared_at=at, **dates
    )


def evaluate(state: ShipmentStateChanged, memory: Memory, now: datetime) -> tuple[Decision, Memory]:
    decision = domain.evaluate(facts=ShipmentFacts.of(state), memory=memory, policy=POLICY, now=now)
    anomalies = dict(memory.anomalies)
    for record in decision.records:
        anomalies[record.anomaly_type] = record
    return decision, Memory(anomalies=anomalies, milestones=decision.milestones)


def detected(decision: Decision) -> list[AnomalyDetected]:
    return [e for e in decision.events if isinstance(e, AnomalyDetected)]


def test_a_delay_declared_before_shipping_is_a_preparation_delay_at_once() -> None:
    delay = declared(T0, new_ship_by=T0 + timedelta(days=3), new_delivery_by=date(2026, 11, 7))
    state = not_shipped(
        promised_ship_by=delay.new_ship_by,
        promised_delivery_by=delay.new_delivery_by,
        declared_delay=delay,
    )
    decision, memory = evaluate(state, Memory.empty(), T0 + timedelta(seconds=1))
    [opened] = detected(decision)
    assert opened.anomaly_type is AnomalyType.PREPARATION_DELAY
    assert opened.evidence.declared_delay == delay
    assert opened.evidence.deadline is None
    assert opened.shipment.declared_delay == delay
    assert opened.shipment.promised_delivery_by == date(2026, 11, 7)
    assert opened.occurred_at == T0
    assert TimerKind.SHIP_BY in {timer.kind for timer in decision.timers}, (
        "the new ship-by time still has its timer"
    )

    again, _ = evaluate(state, memory, T0 + timedelta(hours=1))
    assert detected(again) == [], "one message per declaration"


def test_shipping_ends_a_declared_preparation_delay_without_a_late_message() -> None:
    delay = declared(T0, new_ship_by=T0 + timedelta(days=1))
    state = not_shipped(promised_ship_by=delay.new_ship_by, declared_delay=delay)
    _, memory = evaluate(state, Memory.empty(), T0)
    shipped = state.model_copy(
        update={
            "carrier": "dpd",
            "tracking_number": "15503968012345",
            "status": TrackingStatus.IN_TRANSIT,
            "substatus": Substatus.ACCEPTED_BY_CARRIER,
            "shipped_at": T0 + timedelta(hours=20),
            "version": state.version + 1,
        }
    )
    decision, _ = evaluate(shipped, memory, T0 + timedelta(hours=21))
    assert detected(decision) == []
    [resolved] = [e for e in decision.events if isinstance(e, AnomalyResolved)]
    assert resolved.anomaly_type is AnomalyType.PREPARATION_DELAY
    assert resolved.reason is ResolutionReason.FACTS_CHANGED


def test_a_delay_declared_in_transit_replaces_the_open_late_anomaly_and_the_old_promise() -> None:
    late = in_transit()
    after_old_promise = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
    first, memory = evaluate(late, Memory.empty(), after_old_promise)
    assert [e.anomaly_type for e in detected(first)] == [AnomalyType.DELIVERY_LATE]

    delay = declared(after_old_promise + timedelta(hours=1), new_delivery_by=date(2026, 11, 9))
    declared_state = late.model_copy(
        update={
            "promised_delivery_by": delay.new_delivery_by,
            "declared_delay": delay,
            "version": late.version + 1,
        }
    )
    decision, memory = evaluate(declared_state, memory, delay.declared_at)
    [told] = detected(decision)
    assert told.anomaly_type is AnomalyType.DELIVERY_LATE
    assert told.occurrence == 2
    assert told.evidence.declared_delay == delay
    assert [e.reason for e in decision.events if isinstance(e, AnomalyResolved)] == [
        ResolutionReason.FACTS_CHANGED
    ]

    before_new_promise = datetime(2026, 11, 8, 9, 0, tzinfo=UTC)
    quiet, memory = evaluate(declared_state, memory, before_new_promise)
    assert detected(quiet) == [], "the old promise no longer counts"

    missed_again = datetime(2026, 11, 11, 9, 0, tzinfo=UTC)
    broken, _ = evaluate(declared_state, memory, missed_again)
    [late_again] = detected(broken)
    assert late_again.occurrence == 3
    assert late_again.evidence.deadline is not None, "the new promise was missed too"


def test_a_declaration_after_delivery_opens_nothing() -> None:
    delivered = in_transit(
        status=TrackingStatus.DELIVERED,
        substatus=Substatus.DELIVERED_UNSPECIFIED,
        delivered_at=T0,
        final=True,
        declared_delay=declared(T0, new_delivery_by=date(2026, 11, 9)),
    )
    decision, _ = evaluate(delivered, Memory.empty(), T0 + timedelta(hours=1))
    assert detected(decision) == []
