"""Events and merchant configurations for the actions tests (unit and integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import yaml

from relais_contracts import ids
from relais_contracts.actions import ActionRequest, ReshipRequest
from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.common import Money, TimeSlot
from relais_contracts.topics import anomalies
from relais_contracts.topics.anomalies import AnomalyDetected, AnomalyResolved
from relais_contracts.topics.conversations import (
    CallbackRequested,
    ResolutionChosen,
    ResolutionOutcome,
)
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_runtime.merchants import MerchantConfig

EXAMPLE = anomalies.TOPIC.examples_dir() / "AnomalyDetected-failed-attempt-en.json"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def anomaly_detected(
    *,
    merchant_id: str,
    shipment_id: str,
    anomaly_type: AnomalyType = AnomalyType.LOST,
    order_value: Money | None = None,
    occurred_at: datetime = NOW,
) -> AnomalyDetected:
    example = anomalies.TOPIC.decode(EXAMPLE.read_bytes())
    assert isinstance(example, AnomalyDetected)
    anomaly_id = ids.anomaly_id(merchant_id, shipment_id, anomaly_type.value)
    shipment = example.shipment.model_copy(
        update={"order_id": f"order-{shipment_id}", "order_value": order_value}
    )
    return example.model_copy(
        update={
            "event_id": anomaly_id,
            "anomaly_id": anomaly_id,
            "anomaly_type": anomaly_type,
            "merchant_id": merchant_id,
            "shipment_id": shipment_id,
            "correlation_id": shipment_id,
            "occurred_at": occurred_at,
            "produced_at": occurred_at,
            "shipment": shipment,
        }
    )


def anomaly_resolved(detected: AnomalyDetected, *, reason: ResolutionReason) -> AnomalyResolved:
    return AnomalyResolved(
        occurred_at=detected.occurred_at + timedelta(hours=1),
        merchant_id=detected.merchant_id,
        correlation_id=detected.correlation_id,
        shipment_id=detected.shipment_id,
        anomaly_id=detected.anomaly_id,
        anomaly_type=detected.anomaly_type,
        reason=reason,
        status=TrackingStatus.DELIVERED,
        substatus=Substatus.DELIVERED_TO_RECIPIENT,
    )


def resolution_chosen(
    detected: AnomalyDetected,
    *,
    action: ActionRequest | None = None,
    outcome: ResolutionOutcome = ResolutionOutcome.EXECUTE_ACTION,
) -> ResolutionChosen:
    conversation = ids.conversation_id(detected.merchant_id, detected.anomaly_id)
    resolution = ids.resolution_id(conversation)
    return ResolutionChosen(
        event_id=resolution,
        occurred_at=detected.occurred_at + timedelta(minutes=30),
        merchant_id=detected.merchant_id,
        correlation_id=detected.correlation_id,
        shipment_id=detected.shipment_id,
        conversation_id=conversation,
        resolution_id=resolution,
        order_id=detected.shipment.order_id,
        anomaly_id=detected.anomaly_id,
        anomaly_type=detected.anomaly_type,
        outcome=outcome,
        action=(action or ReshipRequest()) if outcome is ResolutionOutcome.EXECUTE_ACTION else None,
    )


def callback_requested(detected: AnomalyDetected) -> CallbackRequested:
    conversation = ids.conversation_id(detected.merchant_id, detected.anomaly_id)
    start = detected.occurred_at + timedelta(days=1)
    return CallbackRequested(
        event_id=ids.callback_id(conversation),
        occurred_at=detected.occurred_at + timedelta(minutes=10),
        merchant_id=detected.merchant_id,
        correlation_id=detected.correlation_id,
        shipment_id=detected.shipment_id,
        conversation_id=conversation,
        callback_id=ids.callback_id(conversation),
        order_id=detected.shipment.order_id,
        anomaly_id=detected.anomaly_id,
        anomaly_type=detected.anomaly_type,
        phone="+33612345678",
        slot=TimeSlot(start=start, end=start + timedelta(hours=2)),
        time_zone="Europe/Paris",
        locale="fr-FR",
    )


def actions_section(
    *,
    url: str = "https://merchant.example/relais",
    secret_env: str = "TEST_WEBHOOK_SECRET",  # noqa: S107 - the variable's name
    allowed: tuple[str, ...] = ("reship", "refund", "callback_ticket"),
    automatic: tuple[dict[str, object], ...] = (),
    max_attempts: int = 3,
    failure_threshold: int = 5,
    cool_down_s: float = 60.0,
    timeout_s: float = 5.0,
) -> dict[str, object]:
    return {
        "webhook": {"url": url, "secret": {"env": secret_env}, "timeout_s": timeout_s},
        "allowed": list(allowed),
        "automatic": list(automatic),
        "max_attempts": max_attempts,
        "circuit_breaker": {"failure_threshold": failure_threshold, "cool_down_s": cool_down_s},
    }


def merchant_data(merchant_id: str, *, actions: dict[str, object] | None) -> dict[str, object]:
    data: dict[str, object] = {
        "merchant_id": merchant_id,
        "branding": {"display_name": f"Test shop {merchant_id}"},
    }
    if actions is not None:
        data["actions"] = actions
    return data


def merchant(merchant_id: str, *, actions: dict[str, object] | None) -> MerchantConfig:
    return MerchantConfig.model_validate(merchant_data(merchant_id, actions=actions))


def write_merchant(directory: Path, merchant_id: str, *, actions: dict[str, object] | None) -> Path:
    path = directory / f"{merchant_id}.yaml"
    path.write_text(yaml.safe_dump(merchant_data(merchant_id, actions=actions)), encoding="utf-8")
    return path


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def new_shipment_id() -> str:
    return f"shp-{uuid4().hex[:12]}"


def action_of(source_id: UUID, action: str) -> UUID:
    return ids.action_id(source_id, action)
