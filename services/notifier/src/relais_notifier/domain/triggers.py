"""From a detector or actions event to the messages it asks for (pure).

Rules:
- an anomaly notifies only if the merchant binds its type to a template; an
  escalation only if that binding says `notify_escalations`; a milestone only if
  bound; a completed action only with an `action_confirmation` binding; a trigger
  the merchant does not bind yields `TriggerDisabled` (published as suppressed);
- each message of a trigger has the idempotency key
  `ids.notification_key(trigger id, channel, purpose)`, purpose `initial` for a
  first message, `escalation-<level>` for a reminder, `confirmation` for an action;
- links: anomalies point to the chat (subject: the anomaly id), `shipped` and
  `out_for_delivery` to the tracking page, `delivered` to the survey (subject: the
  shipment id); a confirmation points to the chat of its anomaly, or the tracking page;
- the facts a message shows are copied from the event's non-personal shipment
  snapshot, so a deferred message is worded from the facts of its trigger; the
  parcel's contents only for the milestones that confirm a shipment
  (`MILESTONES_WITH_CONTENTS`), the incident reason only for a detected anomaly whose
  evidence names one (not `unknown`);
- an anomaly the merchant declared (evidence.declared_delay) is worded by
  `<template>_declared`, else the generic `declared_delay`, with the reason, the
  merchant's note and the new dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from relais_contracts.catalogue import Milestone
from relais_contracts.shipment import DelayReason, ShipmentContext
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.notifications import Channel, LinkKind, TriggerKind
from relais_contracts.tracking import IncidentReason
from relais_runtime.merchants.notification import MessageBinding, NotificationSettings


class MessageItem(BaseModel):
    """One line of the parcel's contents as a message shows it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    quantity: int
    image_url: str | None = None


class BroadcastWording(BaseModel):
    """A merchant-written message in one language (campaign broadcast)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    locale: str
    subject: str
    body: str


class MessageFacts(BaseModel):
    """What a message may say about the parcel: non-personal, stored with the message."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    order_number: str
    carrier: str | None = None
    tracking_number: str | None = None
    promised_delivery_by: date | None = None
    estimated_delivery: date | None = None
    pickup_point_name: str | None = None
    pickup_point_address: str | None = None
    pickup_point_hours: str | None = None
    pickup_hold_deadline: datetime | None = None
    parcel_index: int = 1
    parcel_count: int = 1
    action: str | None = None
    amount: str | None = None
    currency: str | None = None
    escalation_level: int | None = None
    items: tuple[MessageItem, ...] = ()
    incident_reason: IncidentReason | None = None
    delay_reason: DelayReason | None = None
    delay_note: str | None = None
    new_ship_by: datetime | None = None
    campaign_id: UUID | None = None
    broadcast: tuple[BroadcastWording, ...] = ()
    chat_scenario_id: str | None = None


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind
    ref_id: UUID
    name: str
    source_event_id: UUID


@dataclass(frozen=True)
class MessageRequest:
    """One trigger's message, before its channel is resolved."""

    trigger: Trigger
    purpose: str
    template: str
    channels: tuple[Channel, ...]
    urgent: bool
    link_kind: LinkKind
    link_subject: str
    facts: MessageFacts


@dataclass(frozen=True)
class TriggerDisabled:
    trigger: Trigger
    purpose: str
    channel: Channel


def facts_from(
    shipment: ShipmentContext, *, with_items: bool = False, **extra: object
) -> MessageFacts:
    point = shipment.pickup_point
    address = (
        f"{point.address.line1}, {point.address.postal_code} {point.address.city}"
        if point is not None
        else None
    )
    return MessageFacts.model_validate(
        {
            "order_number": shipment.order_number,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "promised_delivery_by": shipment.promised_delivery_by,
            "estimated_delivery": shipment.estimated_delivery.day
            if shipment.estimated_delivery
            else None,
            "pickup_point_name": point.name if point else None,
            "pickup_point_address": address,
            "pickup_point_hours": point.opening_hours if point else None,
            "pickup_hold_deadline": shipment.pickup_hold_deadline,
            "parcel_index": shipment.parcel_index,
            "parcel_count": shipment.parcel_count,
            "items": [
                MessageItem(name=item.name, quantity=item.quantity, image_url=item.image_url)
                for item in shipment.items
            ]
            if with_items
            else [],
            **extra,
        }
    )


def _channels(binding: MessageBinding, settings: NotificationSettings) -> tuple[Channel, ...]:
    return tuple(Channel(channel.value) for channel in (binding.channels or settings.channels))


def _first_channel(settings: NotificationSettings) -> Channel:
    return Channel(settings.channels[0].value)


def anomaly_request(
    event: AnomalyDetected | AnomalyEscalated, settings: NotificationSettings
) -> MessageRequest | TriggerDisabled:
    escalation = isinstance(event, AnomalyEscalated)
    trigger = Trigger(
        kind=TriggerKind.ANOMALY_ESCALATION if escalation else TriggerKind.ANOMALY,
        ref_id=event.anomaly_id,
        name=event.anomaly_type.value,
        source_event_id=event.event_id,
    )
    purpose = f"escalation-{event.level}" if isinstance(event, AnomalyEscalated) else "initial"
    binding = settings.anomalies.get(event.anomaly_type.value)
    if binding is None or (escalation and not binding.notify_escalations):
        return TriggerDisabled(trigger=trigger, purpose=purpose, channel=_first_channel(settings))
    declared = event.evidence.declared_delay if isinstance(event, AnomalyDetected) else None
    template = binding.template
    if escalation:
        template = f"{template}_reminder"
    elif declared is not None:
        template = f"{template}_declared"
    return MessageRequest(
        trigger=trigger,
        purpose=purpose,
        template=template,
        channels=_channels(binding, settings),
        urgent=event.anomaly_type.value in settings.urgent,
        link_kind=LinkKind.CHAT,
        link_subject=str(event.anomaly_id),
        facts=facts_from(
            event.shipment,
            escalation_level=event.level if isinstance(event, AnomalyEscalated) else None,
            incident_reason=None if escalation else _incident_reason(event),
            delay_reason=declared.reason if declared else None,
            delay_note=declared.note if declared else None,
            new_ship_by=declared.new_ship_by if declared else None,
        ),
    )


def _incident_reason(event: AnomalyDetected | AnomalyEscalated) -> IncidentReason | None:
    incident = event.evidence.incident if isinstance(event, AnomalyDetected) else None
    if incident is None or incident.reason is IncidentReason.UNKNOWN:
        return None
    return incident.reason


MILESTONES_WITH_CONTENTS = frozenset({Milestone.SHIPPED})
"""The milestones whose message lists what the parcel contains."""

MILESTONE_LINKS = {
    Milestone.SHIPPED: LinkKind.TRACKING_PAGE,
    Milestone.OUT_FOR_DELIVERY: LinkKind.TRACKING_PAGE,
    Milestone.DELIVERED: LinkKind.SURVEY,
}


def milestone_request(
    event: ShipmentMilestoneReached, settings: NotificationSettings
) -> MessageRequest | TriggerDisabled:
    trigger = Trigger(
        kind=TriggerKind.MILESTONE,
        ref_id=event.milestone_id,
        name=event.milestone.value,
        source_event_id=event.event_id,
    )
    binding = settings.milestones.get(event.milestone.value)
    if binding is None:
        return TriggerDisabled(trigger=trigger, purpose="initial", channel=_first_channel(settings))
    return MessageRequest(
        trigger=trigger,
        purpose="initial",
        template=binding.template,
        channels=_channels(binding, settings),
        urgent=False,
        link_kind=MILESTONE_LINKS[event.milestone],
        link_subject=event.shipment_id,
        facts=facts_from(event.shipment, with_items=event.milestone in MILESTONES_WITH_CONTENTS),
    )


def action_request(
    event: ActionCompleted, settings: NotificationSettings
) -> MessageRequest | TriggerDisabled:
    trigger = Trigger(
        kind=TriggerKind.ACTION_RESULT,
        ref_id=event.action_id,
        name=event.action.value,
        source_event_id=event.event_id,
    )
    binding = settings.action_confirmation
    if binding is None:
        return TriggerDisabled(
            trigger=trigger, purpose="confirmation", channel=_first_channel(settings)
        )
    to_chat = event.anomaly_id is not None
    return MessageRequest(
        trigger=trigger,
        purpose="confirmation",
        template=binding.template,
        channels=_channels(binding, settings),
        urgent=False,
        link_kind=LinkKind.CHAT if to_chat else LinkKind.TRACKING_PAGE,
        link_subject=str(event.anomaly_id) if to_chat else event.shipment_id,
        facts=MessageFacts(
            order_number=event.order_number,
            action=event.action.value,
            amount=str(event.amount.amount) if event.amount else None,
            currency=event.amount.currency if event.amount else None,
        ),
    )
