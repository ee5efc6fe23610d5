"""The anomaly catalogue covers DESIGN.md's list, with metadata for each type."""

from __future__ import annotations

from relais_contracts.catalogue import ANOMALY_TYPES, AnomalyType, Milestone, Severity


def test_catalogue_is_complete() -> None:
    assert {t.value for t in AnomalyType} == {
        "preparation_delay",
        "delivery_late",
        "stalled",
        "lost",
        "failed_attempt",
        "address_problem",
        "returned_to_sender",
        "damaged",
        "refused",
        "pickup_ready",
        "pickup_hold_expiring",
        "delivered_to_third_party",
        "held_at_customs",
    }
    assert set(ANOMALY_TYPES) == set(AnomalyType)
    assert all(info.description for info in ANOMALY_TYPES.values())


def test_milestones_do_not_duplicate_anomalies() -> None:
    assert {m.value for m in Milestone} == {"shipped", "out_for_delivery", "delivered"}
    assert not {m.value for m in Milestone} & {t.value for t in AnomalyType}


def test_pickup_ready_is_informational() -> None:
    assert ANOMALY_TYPES[AnomalyType.PICKUP_READY].default_severity is Severity.INFO
