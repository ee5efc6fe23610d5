"""The back office's read model of orders: one row per shipment, one timeline per shipment.

Rules:
- the shipment row comes from the shipment state only (newest `version` wins); it holds
  the customer's email (lower-cased) and name, personal data erased with the shipment
  (tombstone) like every other row of that shipment;
- every other event of a shipment leaves at most one timeline entry, keyed by its event
  id (a redelivered event adds nothing), ordered by the event's `occurred_at`; an
  order's own entries (placed, updated, cancelled) come from the shipment states they
  caused, so a whole timeline is filed under the shipment and erased with it;
- an entry's summary and detail never hold a customer's contact, address, free-text
  answer or a link token: only what was decided, sent or done (a survey comment is the
  exception, read by the merchant and erased with the shipment);
- "told" means a message about one of the shipment's anomalies was sent; "resolved"
  means it had anomalies and none is open any more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from relais_contracts.envelope import Event, ShipmentEvent
from relais_contracts.topics import (
    action_commands,
    action_results,
    anomalies,
    conversations,
    notifications,
    shipment_state,
    tracking_events,
)
from relais_insights.domain.facts import shipment_fact

Detail = Mapping[str, Any]


class TimelineKind(StrEnum):
    """The `kind` column of the timeline table."""

    ORDER_PLACED = "order_placed"
    ORDER_UPDATED = "order_updated"
    ORDER_CANCELLED = "order_cancelled"
    CARRIER_SCAN = "carrier_scan"
    ANOMALY_RAISED = "anomaly_raised"
    ANOMALY_ESCALATED = "anomaly_escalated"
    ANOMALY_RESOLVED = "anomaly_resolved"
    MILESTONE = "milestone"
    MESSAGE = "message"
    CHAT_STARTED = "chat_started"
    CHAT_ANSWER = "chat_answer"
    RESOLUTION_CHOSEN = "resolution_chosen"
    CALLBACK_REQUESTED = "callback_requested"
    CHAT_ABANDONED = "chat_abandoned"
    TRACKING_PAGE_VIEWED = "tracking_page_viewed"
    ACTION_REQUESTED = "action_requested"
    ACTION_RESULT = "action_result"
    SURVEY_ANSWER = "survey_answer"


TOLD_TRIGGERS: Final = (
    notifications.TriggerKind.ANOMALY.value,
    notifications.TriggerKind.ANOMALY_ESCALATION.value,
)
"""A message sent for one of these triggers tells the customer about an anomaly."""


@dataclass(frozen=True)
class TimelineEntry:
    event_id: UUID
    shipment_id: str
    at: datetime
    kind: TimelineKind
    summary: str
    ref_id: UUID | None = None
    detail: Detail = field(default_factory=dict)


@dataclass(frozen=True)
class OfficeShipment:
    """A shipment as the back office lists it (the state's fields, not the derived ones)."""

    shipment_id: str
    version: int
    order_id: str
    order_number: str
    customer_email: str | None
    customer_name: str | None
    tracking_number: str | None
    carrier: str | None
    status: str
    substatus: str
    country: str | None
    region: str | None
    ordered_at: datetime
    shipped_at: datetime | None
    promised_delivery_by: date | None
    delivered_at: datetime | None
    cancelled: bool
    parcel_index: int
    parcel_count: int


@dataclass(frozen=True)
class ListedShipment(OfficeShipment):
    """A shipment row with what its timeline says (open anomalies, told, last event)."""

    open_anomalies: tuple[str, ...]
    anomalies_raised: int
    told: bool
    resolved: bool
    last_event_at: datetime


def office_shipment(state: shipment_state.ShipmentStateChanged) -> OfficeShipment:
    snapshot = shipment_fact(state)
    customer = state.customer
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    return OfficeShipment(
        shipment_id=state.shipment_id,
        version=state.version,
        order_id=state.order_id,
        order_number=state.order_number,
        customer_email=customer.email.lower() if customer.email else None,
        customer_name=name or None,
        tracking_number=state.tracking_number,
        carrier=state.carrier,
        status=state.status.value,
        substatus=state.substatus.value,
        country=snapshot.country,
        region=snapshot.region,
        ordered_at=state.placed_at,
        shipped_at=state.shipped_at,
        promised_delivery_by=state.promised_delivery_by,
        delivered_at=state.delivered_at,
        cancelled=state.cancelled,
        parcel_index=state.parcel_index,
        parcel_count=state.parcel_count,
    )


def _present(detail: Mapping[str, Any]) -> Detail:
    return {key: value for key, value in detail.items() if value is not None}


def _entry(
    event: ShipmentEvent,
    kind: TimelineKind,
    summary: str,
    ref_id: UUID | None = None,
    **detail: Any,
) -> TimelineEntry:
    return TimelineEntry(
        event_id=event.event_id,
        shipment_id=event.shipment_id,
        at=event.occurred_at,
        kind=kind,
        summary=summary,
        ref_id=ref_id,
        detail=_present(detail),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


ORDER_CAUSES: Final = {
    shipment_state.StateChangeCause.ORDER_PLACED: (TimelineKind.ORDER_PLACED, "placed"),
    shipment_state.StateChangeCause.ORDER_UPDATED: (TimelineKind.ORDER_UPDATED, "updated"),
    shipment_state.StateChangeCause.ORDER_CANCELLED: (TimelineKind.ORDER_CANCELLED, "cancelled"),
}


def _state(event: shipment_state.ShipmentStateChanged) -> TimelineEntry | None:
    """The order's own steps; a carrier event's state adds nothing (the scan is its entry)."""
    found = ORDER_CAUSES.get(event.cause)
    if found is None:
        return None
    kind, verb = found
    return _entry(
        event,
        kind,
        f"Order {event.order_number} {verb} (parcel {event.parcel_index} of {event.parcel_count})",
        order_number=event.order_number,
        parcel_index=event.parcel_index,
        parcel_count=event.parcel_count,
        version=event.version,
    )


def _scan(event: tracking_events.TrackingEventRecorded) -> TimelineEntry:
    location = event.location
    place = location and (location.facility or location.city)
    return _entry(
        event,
        TimelineKind.CARRIER_SCAN,
        f"{event.carrier}: {event.description}" + (f" ({place})" if place else ""),
        carrier=event.carrier,
        status=event.status.value,
        substatus=event.substatus.value,
        carrier_code=event.carrier_code,
        description=event.description,
        city=location.city if location else None,
        country=location.country if location else None,
        facility=location.facility if location else None,
    )


def _raised(event: anomalies.AnomalyDetected) -> TimelineEntry:
    return _entry(
        event,
        TimelineKind.ANOMALY_RAISED,
        f"Anomaly {event.anomaly_type.value} ({event.severity.value})",
        event.anomaly_id,
        anomaly_type=event.anomaly_type.value,
        severity=event.severity.value,
        occurrence=event.occurrence,
    )


def _escalated(event: anomalies.AnomalyEscalated) -> TimelineEntry:
    return _entry(
        event,
        TimelineKind.ANOMALY_ESCALATED,
        f"Anomaly {event.anomaly_type.value} escalated (level {event.level}, {event.reason.value})",
        event.anomaly_id,
        anomaly_type=event.anomaly_type.value,
        level=event.level,
        reason=event.reason.value,
    )


def _resolved(event: anomalies.AnomalyResolved) -> TimelineEntry:
    return _entry(
        event,
        TimelineKind.ANOMALY_RESOLVED,
        f"Anomaly {event.anomaly_type.value} resolved ({event.reason.value})",
        event.anomaly_id,
        anomaly_type=event.anomaly_type.value,
        reason=event.reason.value,
    )


def _milestone(event: anomalies.ShipmentMilestoneReached) -> TimelineEntry:
    return _entry(
        event,
        TimelineKind.MILESTONE,
        f"Milestone {event.milestone.value}",
        event.milestone_id,
        milestone=event.milestone.value,
    )


def _message(event: notifications.NotificationEvent) -> TimelineEntry:
    outcome = {
        notifications.NotificationSent: "sent",
        notifications.NotificationDeferred: "deferred",
        notifications.NotificationSuppressed: "suppressed",
        notifications.NotificationFailed: "failed",
    }[type(event)]
    reason = getattr(event, "reason", None)
    trigger = event.trigger
    return _entry(
        event,
        TimelineKind.MESSAGE,
        f"{event.channel.value} {outcome}: {trigger.kind.value} {trigger.name}"
        + (f" ({reason.value})" if reason is not None else ""),
        event.notification_id,
        outcome=outcome,
        channel=event.channel.value,
        trigger_kind=trigger.kind.value,
        trigger_name=trigger.name,
        trigger_ref=str(trigger.ref_id),
        template=event.template,
        locale=event.locale,
        attempts=event.attempts,
        reason=reason.value if reason is not None else None,
    )


def _held(event: notifications.NotificationHeldForReview) -> TimelineEntry:
    trigger = event.trigger
    return _entry(
        event,
        TimelineKind.MESSAGE,
        f"held for review: {trigger.kind.value} {trigger.name}",
        event.review_id,
        outcome="held",
        channel=",".join(channel.value for channel in event.channels),
        trigger_kind=trigger.kind.value,
        trigger_name=trigger.name,
        trigger_ref=str(trigger.ref_id),
        template=event.template,
    )


def _chat_started(event: conversations.ConversationStarted) -> TimelineEntry:
    return _entry(
        event,
        TimelineKind.CHAT_STARTED,
        f"Chat opened ({event.purpose.value}, from {event.entry.value})",
        event.conversation_id,
        purpose=event.purpose.value,
        entry=event.entry.value,
        scenario_id=event.scenario_id,
        anomaly_type=_text(event.anomaly_type and event.anomaly_type.value),
    )


def _answer(event: conversations.AnswerRecorded) -> TimelineEntry:
    """Which question and which closed choice: never typed text, an address or a phone."""
    answer = event.answer
    shown = answer.choice_id or (answer.day and answer.day.isoformat())
    return _entry(
        event,
        TimelineKind.CHAT_ANSWER,
        f"Answered {event.node_id}: {shown or answer.kind.value}",
        event.conversation_id,
        node=event.node_id,
        answer_kind=answer.kind.value,
        choice=answer.choice_id,
        day=answer.day.isoformat() if answer.day else None,
    )


def _resolution(event: conversations.ResolutionChosen) -> TimelineEntry:
    action = event.action.action.value if event.action else None
    return _entry(
        event,
        TimelineKind.RESOLUTION_CHOSEN,
        f"Customer chose {action or event.outcome.value}",
        event.conversation_id,
        outcome=event.outcome.value,
        action=action,
        anomaly_type=event.anomaly_type.value,
    )


def _callback(event: conversations.CallbackRequested) -> TimelineEntry:
    """The slot is kept; the phone number and the note are not."""
    return _entry(
        event,
        TimelineKind.CALLBACK_REQUESTED,
        f"Callback requested for {event.slot.start.isoformat()}",
        event.conversation_id,
        slot_start=event.slot.start.isoformat(),
        slot_end=event.slot.end.isoformat(),
        time_zone=event.time_zone,
        anomaly_type=_text(event.anomaly_type and event.anomaly_type.value),
    )


def _abandoned(event: conversations.ConversationAbandoned) -> TimelineEntry:
    return _entry(
        event,
        TimelineKind.CHAT_ABANDONED,
        f"Chat abandoned ({event.reason.value})",
        event.conversation_id,
        reason=event.reason.value,
        last_node=event.last_node_id,
    )


def _viewed(event: conversations.TrackingPageViewed) -> TimelineEntry:
    return _entry(
        event,
        TimelineKind.TRACKING_PAGE_VIEWED,
        f"Tracking page viewed (from {event.entry.value})",
        entry=event.entry.value,
    )


def _survey(event: conversations.SurveyAnswered) -> TimelineEntry:
    return _entry(
        event,
        TimelineKind.SURVEY_ANSWER,
        f"Survey answered: {event.csat}/5",
        event.conversation_id,
        csat=event.csat,
        comment=event.comment,
    )


def _action_requested(event: action_commands.ExecuteAction) -> TimelineEntry:
    action = event.request.action.value
    who = "automatic" if event.automatic else "customer's choice"
    return _entry(
        event,
        TimelineKind.ACTION_REQUESTED,
        f"Action {action} requested ({who})",
        event.action_id,
        action=action,
        automatic=event.automatic,
        attempt=event.attempt,
    )


def _action_result(
    event: action_results.ActionCompleted | action_results.ActionFailed,
) -> TimelineEntry:
    failure: dict[str, Any] = {}
    if isinstance(event, action_results.ActionFailed):
        failure = {
            "reason": event.reason.value,
            "escalated": event.escalated,
            "http_status": event.http_status,
        }
    outcome = "failed" if failure else "completed"
    reason = failure.get("reason")
    return _entry(
        event,
        TimelineKind.ACTION_RESULT,
        f"Action {event.action.value} {outcome} after {event.attempts} attempt(s)"
        + (f" ({reason})" if reason else ""),
        event.action_id,
        action=event.action.value,
        outcome=outcome,
        attempts=event.attempts,
        automatic=event.automatic,
        **failure,
    )


ENTRY_OF_TYPE: Final[Mapping[type[Event], Callable[[Any], TimelineEntry | None]]] = {
    shipment_state.ShipmentStateChanged: _state,
    tracking_events.TrackingEventRecorded: _scan,
    anomalies.AnomalyDetected: _raised,
    anomalies.AnomalyEscalated: _escalated,
    anomalies.AnomalyResolved: _resolved,
    anomalies.ShipmentMilestoneReached: _milestone,
    notifications.NotificationSent: _message,
    notifications.NotificationDeferred: _message,
    notifications.NotificationSuppressed: _message,
    notifications.NotificationFailed: _message,
    notifications.NotificationHeldForReview: _held,
    conversations.ConversationStarted: _chat_started,
    conversations.AnswerRecorded: _answer,
    conversations.ResolutionChosen: _resolution,
    conversations.CallbackRequested: _callback,
    conversations.ConversationAbandoned: _abandoned,
    conversations.TrackingPageViewed: _viewed,
    conversations.SurveyAnswered: _survey,
    action_commands.ExecuteAction: _action_requested,
    action_results.ActionCompleted: _action_result,
    action_results.ActionFailed: _action_result,
}
"""Every shipment event the insights consumers read; the orders topic's events are keyed
by order and leave none (their steps come through the shipment states)."""


def timeline_entry(event: Event) -> TimelineEntry | None:
    mapper = ENTRY_OF_TYPE.get(type(event))
    return None if mapper is None else mapper(event)
