"""What the detector keeps of a shipment state: the only input its rules read."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from relais_contracts.common import DeliveryMode
from relais_contracts.envelope import Contract
from relais_contracts.shipment import DeclaredDelay, ShipmentContext
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import Incident, Substatus, TrackingStatus


class ShipmentFacts(Contract):
    """What the detector keeps of a shipment state: no personal data."""

    merchant_id: str
    shipment_id: str
    version: int
    cancelled: bool
    final: bool
    status: TrackingStatus
    substatus: Substatus
    incident: Incident | None
    status_since: datetime
    last_event_id: UUID | None
    last_event_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    failed_attempts: int
    promised_ship_by: datetime | None
    promised_delivery_by: date | None
    estimated_delivery_day: date | None
    delivery_mode: DeliveryMode
    pickup_hold_deadline: datetime | None
    time_zone: str
    context: ShipmentContext
    declared_delay: DeclaredDelay | None = None

    @classmethod
    def of(cls, state: ShipmentStateChanged) -> ShipmentFacts:
        last = state.last_event
        return cls(
            merchant_id=state.merchant_id,
            shipment_id=state.shipment_id,
            version=state.version,
            cancelled=state.cancelled,
            final=state.final,
            status=state.status,
            substatus=state.substatus,
            incident=state.incident,
            status_since=state.status_since,
            last_event_id=last.event_id if last else None,
            last_event_at=last.occurred_at if last else None,
            shipped_at=state.shipped_at,
            delivered_at=state.delivered_at,
            failed_attempts=state.failed_attempts,
            promised_ship_by=state.promised_ship_by,
            promised_delivery_by=state.promised_delivery_by,
            estimated_delivery_day=state.estimated_delivery.day
            if state.estimated_delivery
            else None,
            delivery_mode=state.delivery.mode,
            pickup_hold_deadline=state.pickup_hold_deadline,
            time_zone=state.customer.time_zone,
            context=state.context(),
            declared_delay=state.declared_delay,
        )

    @property
    def delivered(self) -> bool:
        return self.status is TrackingStatus.DELIVERED

    @property
    def arrived(self) -> bool:
        """Delivered, or waiting at the pickup point the customer chose."""
        return self.delivered or (
            self.status is TrackingStatus.AVAILABLE_FOR_PICKUP
            and self.delivery_mode is DeliveryMode.PICKUP_POINT
        )
