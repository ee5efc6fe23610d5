"""Events for the notifier's tests, built from the contracts' own examples."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import uuid4

from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType, Milestone, ResolutionReason
from relais_contracts.common import CustomerContact
from relais_contracts.topics import action_results, anomalies, shipment_state
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.shipment_state import ShipmentStateChanged

E = TypeVar("E")


def _from_example(
    topic: Any, example: str, kind: type[E], *, merchant_id: str, shipment_id: str, **fields: Any
) -> E:
    """A contract example re-addressed to this shipment, with a fresh event id."""
    base = topic.decode((topic.examples_dir() / example).read_bytes())
    event = base.model_copy(
        update={
            "event_id": uuid4(),
            "merchant_id": merchant_id,
            "shipment_id": shipment_id,
            "correlation_id": shipment_id,
            **fields,
        }
    )
    assert isinstance(event, kind)
    return event


def state(
    *,
    merchant_id: str,
    shipment_id: str,
    email: str | None,
    phone: str | None = None,
    first_name: str | None = "Camille",
    locale: str = "fr-FR",
    time_zone: str = "Europe/Paris",
    customer_id: str | None = None,
    version: int = 1,
) -> ShipmentStateChanged:
    customer = CustomerContact(
        customer_id=customer_id,
        first_name=first_name,
        email=email,
        phone=phone,
        locale=locale,
        time_zone=time_zone,
    )
    return _from_example(
        shipment_state.TOPIC,
        "ShipmentStateChanged-colissimo-out-for-delivery.json",
        ShipmentStateChanged,
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        version=version,
        customer=customer,
    )


def anomaly(
    *,
    merchant_id: str,
    shipment_id: str,
    anomaly_type: AnomalyType = AnomalyType.DELIVERY_LATE,
    occurred_at: datetime | None = None,
) -> AnomalyDetected:
    event = _from_example(
        anomalies.TOPIC,
        "AnomalyDetected-delivery-late-deadline.json",
        AnomalyDetected,
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        anomaly_id=ids.anomaly_id(merchant_id, shipment_id, anomaly_type.value),
        anomaly_type=anomaly_type,
    )
    return event if occurred_at is None else event.model_copy(update={"occurred_at": occurred_at})


def resolved(detected: AnomalyDetected) -> AnomalyResolved:
    return AnomalyResolved(
        occurred_at=detected.occurred_at,
        merchant_id=detected.merchant_id,
        correlation_id=detected.correlation_id,
        shipment_id=detected.shipment_id,
        anomaly_id=detected.anomaly_id,
        anomaly_type=detected.anomaly_type,
        reason=ResolutionReason.FACTS_CHANGED,
        status=detected.shipment.status,
        substatus=detected.shipment.substatus,
    )


def milestone(*, merchant_id: str, shipment_id: str, which: Milestone) -> ShipmentMilestoneReached:
    return _from_example(
        anomalies.TOPIC,
        "ShipmentMilestoneReached-shipped-en.json",
        ShipmentMilestoneReached,
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        milestone=which,
        milestone_id=ids.milestone_id(merchant_id, shipment_id, which.value),
    )


def action_completed(*, merchant_id: str, shipment_id: str) -> ActionCompleted:
    return _from_example(
        action_results.TOPIC,
        "ActionCompleted-reship.json",
        ActionCompleted,
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        action_id=uuid4(),
    )
