"""The non-personal snapshot of a shipment that anomalies, milestones and actions carry.

Rule: it holds what a message, a webhook or a KPI needs to name the parcel (order
number, carrier, tracking number, dates, pickup point) and nothing that identifies
the customer; consumers that need the customer's contact read the shipment state.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from relais_contracts.common import CarrierCode, DeliveryMode, Money, PickupPoint, TrackingNumber
from relais_contracts.envelope import Contract, OrderId
from relais_contracts.privacy import PERSONAL
from relais_contracts.text import SINGLE_LINE, OptionalSingleLine, SingleLine
from relais_contracts.tracking import (
    DeliveryEstimate,
    Substatus,
    TrackingStatus,
    check_pair,
)

ImageUrl = Annotated[
    str,
    StringConstraints(max_length=2000, pattern=r"^https://[^\s\"'<>\\]+$"),
    SINGLE_LINE,
]
"""An https address of a product picture (an email shows it as is: never http, no
quotes, spaces or angle brackets)."""


class ShipmentItem(Contract):
    """One line of what a parcel contains, as the customer is shown it (not personal)."""

    sku: SingleLine = Field(min_length=1, max_length=64)
    name: SingleLine = Field(min_length=1, max_length=300)
    quantity: int = Field(ge=1, le=10_000)
    image_url: ImageUrl | None = Field(default=None, description="A picture of the product.")


class DelayReason(StrEnum):
    """Why the merchant says an order will be late (a closed list the customer is told)."""

    STOCK = "stock"
    PREPARATION = "preparation"
    CARRIER_PICKUP = "carrier_pickup"
    WEATHER = "weather"
    STRIKE = "strike"
    OTHER = "other"


class DeclaredDelay(Contract):
    """The merchant declared the order late, before any deadline passed.

    Rule: the snapshot that carries it already holds the new promises (the new ship-by
    time or delivery day replace the old ones); `declared_at` tells one declaration
    from the next, so the customer is told once per declaration.
    """

    reason: DelayReason
    note: OptionalSingleLine = Field(
        default=None,
        max_length=300,
        description="The merchant's own words, shown as given (free text: kept out of logs).",
        json_schema_extra=PERSONAL,
    )
    declared_at: AwareDatetime
    new_ship_by: AwareDatetime | None = Field(default=None, description="The new ship-by time.")
    new_delivery_by: date | None = Field(
        default=None, description="The new last delivery day, in the customer's time zone."
    )

    @model_validator(mode="after")
    def _a_new_date(self) -> Self:
        if self.new_ship_by is None and self.new_delivery_by is None:
            raise ValueError("a declared delay needs new_ship_by or new_delivery_by")
        return self


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
    items: tuple[ShipmentItem, ...] = Field(
        default=(), description="What this parcel contains (empty: not told)."
    )
    declared_delay: DeclaredDelay | None = Field(
        default=None, description="The merchant's latest declaration that the order is late."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_pair(self.status, self.substatus)
        if self.parcel_index > self.parcel_count:
            raise ValueError("parcel_index is past parcel_count")
        return self
