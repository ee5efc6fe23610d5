"""The non-personal snapshot of a shipment that anomalies, milestones and actions carry.

Rule: it holds what a message, a webhook or a KPI needs to name the parcel (order
number, carrier, tracking number, dates, pickup point) and nothing that identifies
the customer; consumers that need the customer's contact read the shipment state.
"""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import AwareDatetime, Field, model_validator

from relais_contracts.common import CarrierCode, DeliveryMode, Money, PickupPoint, TrackingNumber
from relais_contracts.envelope import Contract, OrderId
from relais_contracts.text import SingleLine
from relais_contracts.tracking import (
    DeliveryEstimate,
    Substatus,
    TrackingStatus,
    check_pair,
)


class ShipmentContext(Contract):
    order_id: OrderId
    order_number: SingleLine = Field(
        min_length=1, max_length=64, description="The order number the customer knows."
    )
    carrier: CarrierCode | None = None
    tracking_number: TrackingNumber | None = None
    status: TrackingStatus
    substatus: Substatus
    delivery_mode: DeliveryMode
    pickup_point: PickupPoint | None = None
    pickup_hold_deadline: AwareDatetime | None = None
    promised_delivery_by: date | None = None
    estimated_delivery: DeliveryEstimate | None = None
    order_value: Money | None = None
    parcel_index: int = Field(default=1, ge=1, description="This parcel's rank in the order.")
    parcel_count: int = Field(default=1, ge=1, description="Parcels in the order.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_pair(self.status, self.substatus)
        if self.parcel_index > self.parcel_count:
            raise ValueError("parcel_index is past parcel_count")
        return self
