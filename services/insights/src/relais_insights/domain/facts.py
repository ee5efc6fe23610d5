"""Compact facts: what insights keeps of each event, enough to recompute every KPI.

Rules:
- one fact per consumed event, keyed by the event id (the consumer's claim and the
  fact's insert share one transaction: a redelivered event adds nothing);
- a resolution chosen and an action requested keep the customer's closed reason for a
  refused or returned parcel (`customer_reason`), never the comment typed with it;
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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

from relais_contracts.actions import ActionRequest
from relais_contracts.common import DeliveryMode
from relais_contracts.envelope import Event, ShipmentEvent
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
from relais_contracts.topics.orders import OrderEvent

Detail = Mapping[str, Any]


class FactKind(StrEnum):
    """What a fact records; the values are the `kind` column of the facts table."""

    ORDER_PLACED = "order_placed"
    ORDER_UPDATED = "order_updated"
    ORDER_CANCELLED = "order_cancelled"
    TRACKING_EVENT = "tracking_event"
    ANOMALY_DETECTED = "anomaly_detected"
    ANOMALY_ESCALATED = "anomaly_escalated"
    ANOMALY_RESOLVED = "anomaly_resolved"
    MILESTONE = "milestone"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_DEFERRED = "notification_deferred"
    NOTIFICATION_SUPPRESSED = "notification_suppressed"
    NOTIFICATION_FAILED = "notification_failed"
    NOTIFICATION_HELD = "notification_held"
    TRACKING_PAGE_VIEWED = "tracking_page_viewed"
    CONVERSATION_STARTED = "conversation_started"
    ANSWER_RECORDED = "answer_recorded"
    RESOLUTION_CHOSEN = "resolution_chosen"
    CALLBACK_REQUESTED = "callback_requested"
    SURVEY_ANSWERED = "survey_answered"
    CONVERSATION_ABANDONED = "conversation_abandoned"
    ACTION_REQUESTED = "action_requested"
    ACTION_COMPLETED = "action_completed"
    ACTION_FAILED = "action_failed"


@dataclass(frozen=True)
class Fact:
    event_id: UUID
    kind: FactKind
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


def _present(detail: Mapping[str, Any]) -> Detail:
    """A fact's detail leaves out what the event did not say (None)."""
    return {key: value for key, value in detail.items() if value is not None}


def _about_order(event: OrderEvent, kind: FactKind, **detail: Any) -> Fact:
    """An order's fact is filed under the order id (no parcel is known yet)."""
    return Fact(
        event_id=event.event_id,
        kind=kind,
        shipment_id=event.order_id,
        occurred_at=event.occurred_at,
        detail=_present(detail),
    )


def _about_shipment(
    event: ShipmentEvent, kind: FactKind, ref_id: UUID | None = None, **detail: Any
) -> Fact:
    return Fact(
        event_id=event.event_id,
        kind=kind,
        shipment_id=event.shipment_id,
        occurred_at=event.occurred_at,
        ref_id=ref_id,
        detail=_present(detail),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _reason_of(request: ActionRequest | None) -> str | None:
    """The closed reason the customer gave (refused or returned parcel), without the comment."""
    given = getattr(request, "customer_reason", None)
    return None if given is None else str(given.reason.value)


def _order_placed(event: orders.OrderPlaced) -> Fact:
    return _about_order(event, FactKind.ORDER_PLACED, parcels=len(event.parcels))


def _order_updated(event: orders.OrderUpdated) -> Fact:
    return _about_order(event, FactKind.ORDER_UPDATED, parcels=len(event.parcels))


def _order_cancelled(event: orders.OrderCancelled) -> Fact:
    return _about_order(event, FactKind.ORDER_CANCELLED, reason=event.reason.value)


def _tracking_event(event: tracking_events.TrackingEventRecorded) -> Fact:
    return _about_shipment(
        event,
        FactKind.TRACKING_EVENT,
        carrier=event.carrier,
        status=event.status.value,
        substatus=event.substatus.value,
    )


def _anomaly_detected(event: anomalies.AnomalyDetected) -> Fact:
    return _about_shipment(
        event,
        FactKind.ANOMALY_DETECTED,
        event.anomaly_id,
        anomaly_type=event.anomaly_type.value,
        carrier=event.shipment.carrier,
        severity=event.severity.value,
    )


def _anomaly_escalated(event: anomalies.AnomalyEscalated) -> Fact:
    return _about_shipment(
        event,
        FactKind.ANOMALY_ESCALATED,
        event.anomaly_id,
        anomaly_type=event.anomaly_type.value,
        level=event.level,
        reason=event.reason.value,
    )


def _anomaly_resolved(event: anomalies.AnomalyResolved) -> Fact:
    return _about_shipment(
        event,
        FactKind.ANOMALY_RESOLVED,
        event.anomaly_id,
        anomaly_type=event.anomaly_type.value,
        reason=event.reason.value,
    )


def _milestone(event: anomalies.ShipmentMilestoneReached) -> Fact:
    return _about_shipment(
        event, FactKind.MILESTONE, event.milestone_id, milestone=event.milestone.value
    )


def _notification(
    event: notifications.NotificationEvent, kind: FactKind, reason: StrEnum | None = None
) -> Fact:
    return _about_shipment(
        event,
        kind,
        event.notification_id,
        channel=event.channel.value,
        trigger_kind=event.trigger.kind.value,
        trigger_ref=str(event.trigger.ref_id),
        trigger_name=event.trigger.name,
        reason=reason.value if reason is not None else None,
    )


def _notification_sent(event: notifications.NotificationSent) -> Fact:
    return _notification(event, FactKind.NOTIFICATION_SENT)


def _notification_deferred(event: notifications.NotificationDeferred) -> Fact:
    return _notification(event, FactKind.NOTIFICATION_DEFERRED, event.reason)


def _notification_suppressed(event: notifications.NotificationSuppressed) -> Fact:
    return _notification(event, FactKind.NOTIFICATION_SUPPRESSED, event.reason)


def _notification_failed(event: notifications.NotificationFailed) -> Fact:
    return _notification(event, FactKind.NOTIFICATION_FAILED, event.reason)


def _notification_held(event: notifications.NotificationHeldForReview) -> Fact:
    return _about_shipment(
        event,
        FactKind.NOTIFICATION_HELD,
        event.review_id,
        trigger_kind=event.trigger.kind.value,
        trigger_ref=str(event.trigger.ref_id),
        trigger_name=event.trigger.name,
    )


def _tracking_page_viewed(event: conversations.TrackingPageViewed) -> Fact:
    return _about_shipment(event, FactKind.TRACKING_PAGE_VIEWED, entry=event.entry.value)


def _conversation_started(event: conversations.ConversationStarted) -> Fact:
    return _about_shipment(
        event,
        FactKind.CONVERSATION_STARTED,
        event.conversation_id,
        purpose=event.purpose.value,
        anomaly_id=_text(event.anomaly_id),
        anomaly_type=_text(event.anomaly_type and event.anomaly_type.value),
        entry=event.entry.value,
    )


def _answer_recorded(event: conversations.AnswerRecorded) -> Fact:
    """The answer's content stays out: only which question was answered."""
    return _about_shipment(
        event, FactKind.ANSWER_RECORDED, event.conversation_id, node=event.node_id
    )


def _resolution_chosen(event: conversations.ResolutionChosen) -> Fact:
    return _about_shipment(
        event,
        FactKind.RESOLUTION_CHOSEN,
        event.conversation_id,
        anomaly_id=str(event.anomaly_id),
        anomaly_type=event.anomaly_type.value,
        outcome=event.outcome.value,
        action=_text(event.action and event.action.action.value),
        customer_reason=_reason_of(event.action),
    )


def _callback_requested(event: conversations.CallbackRequested) -> Fact:
    return _about_shipment(
        event,
        FactKind.CALLBACK_REQUESTED,
        event.conversation_id,
        anomaly_id=_text(event.anomaly_id),
    )


def _survey_answered(event: conversations.SurveyAnswered) -> Fact:
    """The one fact with personal data (the comment), erased with the shipment."""
    return _about_shipment(
        event,
        FactKind.SURVEY_ANSWERED,
        event.conversation_id,
        csat=event.csat,
        comment=event.comment,
        locale=event.locale,
    )


def _conversation_abandoned(event: conversations.ConversationAbandoned) -> Fact:
    return _about_shipment(
        event, FactKind.CONVERSATION_ABANDONED, event.conversation_id, reason=event.reason.value
    )


def _action_requested(event: action_commands.ExecuteAction) -> Fact:
    return _about_shipment(
        event,
        FactKind.ACTION_REQUESTED,
        event.action_id,
        action=event.request.action.value,
        automatic=event.automatic,
        anomaly_id=_text(event.anomaly_id),
        customer_reason=_reason_of(event.request),
    )


def _action_completed(event: action_results.ActionCompleted) -> Fact:
    return _about_shipment(
        event,
        FactKind.ACTION_COMPLETED,
        event.action_id,
        action=event.action.value,
        automatic=event.automatic,
        anomaly_id=_text(event.anomaly_id),
    )


def _action_failed(event: action_results.ActionFailed) -> Fact:
    return _about_shipment(
        event,
        FactKind.ACTION_FAILED,
        event.action_id,
        action=event.action.value,
        automatic=event.automatic,
        anomaly_id=_text(event.anomaly_id),
        reason=event.reason.value,
        escalated=event.escalated,
    )


FACT_OF_TYPE: Final[Mapping[type[Event], Callable[[Any], Fact]]] = {
    orders.OrderPlaced: _order_placed,
    orders.OrderUpdated: _order_updated,
    orders.OrderCancelled: _order_cancelled,
    tracking_events.TrackingEventRecorded: _tracking_event,
    anomalies.AnomalyDetected: _anomaly_detected,
    anomalies.AnomalyEscalated: _anomaly_escalated,
    anomalies.AnomalyResolved: _anomaly_resolved,
    anomalies.ShipmentMilestoneReached: _milestone,
    notifications.NotificationSent: _notification_sent,
    notifications.NotificationDeferred: _notification_deferred,
    notifications.NotificationSuppressed: _notification_suppressed,
    notifications.NotificationFailed: _notification_failed,
    notifications.NotificationHeldForReview: _notification_held,
    conversations.TrackingPageViewed: _tracking_page_viewed,
    conversations.ConversationStarted: _conversation_started,
    conversations.AnswerRecorded: _answer_recorded,
    conversations.ResolutionChosen: _resolution_chosen,
    conversations.CallbackRequested: _callback_requested,
    conversations.SurveyAnswered: _survey_answered,
    conversations.ConversationAbandoned: _conversation_abandoned,
    action_commands.ExecuteAction: _action_requested,
    action_results.ActionCompleted: _action_completed,
    action_results.ActionFailed: _action_failed,
}
"""Every message type of the fact topics, mapped to the fact it leaves."""


def fact_of(event: Event) -> Fact | None:
    """The fact an event leaves; None for a type no mapper is written for (the consumer
    dead-letters it: a type added to a topic must be mapped here first)."""
    mapper = FACT_OF_TYPE.get(type(event))
    return None if mapper is None else mapper(event)
