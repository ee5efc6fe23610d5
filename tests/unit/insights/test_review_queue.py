"""The review queue's pure rules (relais_insights.domain.review_queue): what each event
does to the queue, and when an item is over the merchant's limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relais_contracts import ids
from relais_contracts.topics import anomalies, notifications
from relais_contracts.topics.notifications import SuppressionReason, TriggerKind
from relais_insights.domain.review_queue import (
    Close,
    QueuedReview,
    ReviewState,
    Withdraw,
    change_of,
    over_limit,
    waited,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def example(topic: Any, name: str) -> Any:
    return topic.decode((topic.examples_dir() / name).read_bytes())


HELD = example(notifications.TOPIC, "NotificationHeldForReview-lost.json")


def outcome_of_held(name: str, **update: Any) -> Any:
    event = example(notifications.TOPIC, name)
    key = ids.notification_key(HELD.trigger.ref_id, "email", HELD.purpose)
    return event.model_copy(update={"trigger": HELD.trigger, "idempotency_key": key, **update})


def test_a_held_message_is_queued_with_its_anomaly_and_time() -> None:
    change = change_of(HELD)
    assert change == QueuedReview(
        review_id=HELD.review_id,
        shipment_id=HELD.shipment_id,
        anomaly_id=HELD.trigger.ref_id,
        anomaly_type="lost",
        purpose="initial",
        template="lost",
        channels=("email",),
        held_at=HELD.occurred_at,
    )


@pytest.mark.parametrize(
    ("name", "update", "state"),
    [
        ("NotificationSent-email-fr.json", {}, ReviewState.SENT),
        (
            "NotificationSuppressed-unsubscribed.json",
            {"reason": SuppressionReason.DISMISSED_BY_MERCHANT},
            ReviewState.DISMISSED,
        ),
        (
            "NotificationSuppressed-unsubscribed.json",
            {"reason": SuppressionReason.STALE},
            ReviewState.WITHDRAWN,
        ),
        ("NotificationFailed-hard-bounce.json", {}, ReviewState.SENT),
    ],
)
def test_an_outcome_of_the_held_message_closes_its_review(
    name: str, update: dict[str, Any], state: ReviewState
) -> None:
    review_id = ids.review_id(HELD.trigger.ref_id, HELD.purpose)
    assert review_id == HELD.review_id
    assert change_of(outcome_of_held(name, **update)) == Close(review_id=review_id, state=state)


def test_an_outcome_of_a_milestone_message_is_no_review_change() -> None:
    sent = outcome_of_held("NotificationSent-email-fr.json")
    milestone = sent.model_copy(
        update={"trigger": sent.trigger.model_copy(update={"kind": TriggerKind.MILESTONE})}
    )
    assert change_of(milestone) is None


def test_a_resolution_withdraws_the_anomalys_reviews() -> None:
    resolved = example(anomalies.TOPIC, "AnomalyResolved-facts-changed.json")
    assert change_of(resolved) == Withdraw(anomaly_id=resolved.anomaly_id)
    detected = example(anomalies.TOPIC, "AnomalyDetected-failed-attempt-en.json")
    assert change_of(detected) is None


def test_over_the_limit_only_once_it_waited_longer() -> None:
    limit = timedelta(hours=2)
    assert not over_limit(NOW - limit, NOW, limit)
    assert over_limit(NOW - limit - timedelta(seconds=1), NOW, limit)
    assert waited(NOW + timedelta(minutes=5), NOW) == timedelta(0)  # a clock ahead: no debt
