"""Compact facts: what insights keeps of each event, enough to recompute every KPI.

Rules:
- one fact per consumed event, keyed by the event id (the consumer's claim and the
  fact's insert share one transaction: a redelivered event adds nothing);
- a fact holds no personal data except a survey comment, which the merchant reads on
  its dashboard and which is erased with the shipment (tombstone);
- a shipment keeps one row, the latest snapshot by `version` (older or equal versions
  are ignored), with its destination region: the country and the first two characters
  of the postal code (the French département, a UK postcode area): coarse enough to
  say nothing about a person;
- `delivered_day` is the delivery date in the customer's time zone, the one the
  promise (`promised_delivery_by`) is expressed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from relais_contracts.common import DeliveryMode
from relais_contracts.envelope import Event
from relais_contracts.topics import (
    action_commands,
    action_results,
    anomalies,
    conversations,
    notifications,
    orders,
    shipment_state,
    tracking_events,
)

Detail = Mapping[str, Any]


@dataclass(frozen=True)
class Fact:
    event_id: UUID
    kind: str
    shipment_id: str
    occurred_at: datetime
    ref_id: UUID | None = None
    detail: Detail = field(default_factory=dict)


@dataclass(frozen=True)
class ShipmentFact:
    shipment_id: str
    version: int
    carrier: str | None
    country: str | None
    region: str | None
    placed_at: datetime
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    delivered_day: date | None = None
    promised_delivery_by: date | None = None
    failed_attempts: int = 0
    cancelled: bool = False


def region_of(country: str | None, postal_code: str | None) -> str | None:
    """`FR-75`: the country and the first two characters of the postal code."""
    if country is None:
        return None
    compact = "".join((postal_code or "").split()).upper()
    return f"{country}-{compact[:2]}" if len(compact) >= 2 else country


def shipment_fact(state: shipment_state.ShipmentStateChanged) -> ShipmentFact:
    delivery = state.delivery
    address = (
        delivery.pickup_point.address
        if delivery.mode is DeliveryMode.PICKUP_POINT and delivery.pickup_point
        else delivery.address
    )
    country = address.country if address else None
    delivered_day = (
        state.delivered_at.astimezone(ZoneInfo(state.customer.time_zone)).date()
        if state.delivered_at
        else None
    )
    return ShipmentFact(
        shipment_id=state.shipment_id,
        version=state.version,
        carrier=state.carrier,
        country=country,
        region=region_of(country, address.postal_code if address else None),
        placed_at=state.placed_at,
        shipped_at=state.shipped_at,
        delivered_at=state.delivered_at,
        delivered_day=delivered_day,
        promised_delivery_by=state.promised_delivery_by,
        failed_attempts=state.failed_attempts,
        cancelled=state.cancelled,
    )


def _fact(event: Event, kind: str, ref_id: UUID | None = None, **detail: Any) -> Fact:
    return Fact(
        event_id=event.event_id,
        kind=kind,
        shipment_id=str(getattr(event, "shipment_id", getattr(event, "order_id", ""))),
        occurred_at=event.occurred_at,
        ref_id=ref_id,
        detail={key: value for key, value in detail.items() if value is not None},
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def fact_of(event: Event) -> Fact | None:
    """The fact an event leaves, None for events no KPI needs (answers' content...)."""
    match event:
        case orders.OrderPlaced():
            return _fact(event, "order_placed", parcels=len(event.parcels))
        case orders.OrderUpdated():
            return _fact(event, "order_updated", parcels=len(event.parcels))
        case orders.OrderCancelled():
            return _fact(event, "order_cancelled", reason=event.reason.value)
        case tracking_events.TrackingEventRecorded():
            return _fact(
                event,
                "tracking_event",
                carrier=event.carrier,
                status=event.status.value,
                substatus=event.substatus.value,
            )
        case anomalies.AnomalyDetected():
            return _fact(
                event,
                "anomaly_detected",
                event.anomaly_id,
                anomaly_type=event.anomaly_type.value,
                carrier=event.shipment.carrier,
                severity=event.severity.value,
            )
        case anomalies.AnomalyEscalated():
            return _fact(
                event,
                "anomaly_escalated",
                event.anomaly_id,
                anomaly_type=event.anomaly_type.value,
                level=event.level,
                reason=event.reason.value,
            )
        case anomalies.AnomalyResolved():
            return _fact(
                event,
                "anomaly_resolved",
                event.anomaly_id,
                anomaly_type=event.anomaly_type.value,
                reason=event.reason.value,
            )
        case anomalies.ShipmentMilestoneReached():
            return _fact(event, "milestone", event.milestone_id, milestone=event.milestone.value)
        case (
            notifications.NotificationSent()
            | notifications.NotificationFailed()
            | (notifications.NotificationSuppressed() | notifications.NotificationDeferred())
        ):
            return _notification_fact(event)
        case conversations.TrackingPageViewed():
            return _fact(event, "tracking_page_viewed", entry=event.entry.value)
        case conversations.ConversationStarted():
            return _fact(
                event,
                "conversation_started",
                event.conversation_id,
                purpose=event.purpose.value,
                anomaly_id=_text(event.anomaly_id),
                anomaly_type=_text(event.anomaly_type and event.anomaly_type.value),
                entry=event.entry.value,
            )
        case conversations.AnswerRecorded():
            return _fact(event, "answer_recorded", event.conversation_id, node=event.node_id)
        case conversations.ResolutionChosen():
            return _fact(
                event,
                "resolution_chosen",
                event.conversation_id,
                anomaly_id=str(event.anomaly_id),
                anomaly_type=event.anomaly_type.value,
                outcome=event.outcome.value,
                action=_text(event.action and event.action.action.value),
            )
        case conversations.CallbackRequested():
            return _fact(
                event,
                "callback_requested",
                event.conversation_id,
                anomaly_id=_text(event.anomaly_id),
            )
        case conversations.SurveyAnswered():
            return _fact(
                event,
                "survey_answered",
                event.conversation_id,
                csat=event.csat,
                comment=event.comment,
                locale=event.locale,
            )
        case conversations.ConversationAbandoned():
            return _fact(
                event, "conversation_abandoned", event.conversation_id, reason=event.reason.value
            )
        case action_commands.ExecuteAction():
            return _fact(
                event,
                "action_requested",
                event.action_id,
                action=event.request.action.value,
                automatic=event.automatic,
                anomaly_id=_text(event.anomaly_id),
            )
        case action_results.ActionCompleted() | action_results.ActionFailed():
            failed = isinstance(event, action_results.ActionFailed)
            return _fact(
                event,
                "action_failed" if failed else "action_completed",
                event.action_id,
                action=event.action.value,
                automatic=event.automatic,
                anomaly_id=_text(event.anomaly_id),
                reason=event.reason.value
                if isinstance(event, action_results.ActionFailed)
                else None,
                escalated=event.escalated
                if isinstance(event, action_results.ActionFailed)
                else None,
            )
    return None


def _notification_fact(event: notifications._NotificationOutcome) -> Fact:
    kind = {
        "NotificationSent": "notification_sent",
        "NotificationDeferred": "notification_deferred",
        "NotificationSuppressed": "notification_suppressed",
        "NotificationFailed": "notification_failed",
    }[event.event_type]
    reason = getattr(event, "reason", None)
    return _fact(
        event,
        kind,
        event.notification_id,
        channel=event.channel.value,
        trigger_kind=event.trigger.kind.value,
        trigger_ref=str(event.trigger.ref_id),
        trigger_name=event.trigger.name,
        reason=reason.value if reason is not None else None,
    )
