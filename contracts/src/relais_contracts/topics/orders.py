"""relais.orders.v1: merchants' orders, with the customer and the parcels to follow.

Rules:
- keyed by `<merchant_id>/<order_id>`: an order's events stay in order; the tracker
  splits the order into shipments (one per parcel) and from then on everything is
  keyed by the shipment;
- OrderPlaced and OrderUpdated carry the whole order (a snapshot, never a patch):
  an OrderUpdated replaces what the tracker knew; a parcel missing from it is no
  longer part of the order;
- a parcel may be declared before it ships (no carrier, no tracking number yet) so
  that a missed ship-by time is detected; the tracking number comes in a later
  OrderUpdated (both carrier and tracking number, or neither);
- merchants publish here directly (Kafka) or through the tracker's order API, which
  validates with these same models and publishes here;
- the customer's contact is personal data: the tracker copies it into the shipment
  state (the only other place it lives) and nothing else logs or republishes it.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from relais_contracts.common import (
    CarrierCode,
    CustomerContact,
    Delivery,
    Money,
    TrackingNumber,
)
from relais_contracts.envelope import Contract, MerchantEvent, OrderId, ShipmentId
from relais_contracts.privacy import PERSONAL
from relais_contracts.registry import Service, Topic
from relais_contracts.shipment import DeclaredDelay, ShipmentItem
from relais_contracts.text import OptionalSingleLine, SingleLine


class LineItem(ShipmentItem):
    """A line of the order: what the customer is shown (sku, name, quantity, picture)
    and its price."""

    unit_price: Money | None = None


class Parcel(Contract):
    """One parcel of the order: one shipment for Relais."""

    shipment_id: ShipmentId
    carrier: CarrierCode | None = Field(default=None, description="None until shipped.")
    tracking_number: TrackingNumber | None = Field(default=None, description="None until shipped.")
    shipped_at: AwareDatetime | None = Field(
        default=None, description="When the merchant handed it to the carrier, if known."
    )
    service: OptionalSingleLine = Field(
        default=None, max_length=100, description='The carrier\'s product ("Colissimo Expert").'
    )
    items: tuple[LineItem, ...] = Field(
        default=(),
        description="What this parcel contains; left empty, the order's items stand for it.",
    )

    @model_validator(mode="after")
    def _carrier_with_tracking_number(self) -> Self:
        if (self.carrier is None) != (self.tracking_number is None):
            raise ValueError("carrier and tracking_number go together: both or neither")
        return self


class _OrderSnapshot(MerchantEvent):
    """The whole order as the merchant knows it now."""

    order_id: OrderId
    order_number: SingleLine = Field(
        min_length=1, max_length=64, description='The number the customer sees ("#10452").'
    )
    placed_at: AwareDatetime
    customer: CustomerContact = Field(json_schema_extra=PERSONAL)
    delivery: Delivery
    promised_ship_by: AwareDatetime | None = Field(
        default=None, description="Latest time the merchant promised to hand the order over."
    )
    promised_delivery_from: date | None = Field(
        default=None, description="First day of the promised delivery window (customer's zone)."
    )
    promised_delivery_by: date | None = Field(
        default=None,
        description="Last day of the promised delivery window, in the customer's time zone: "
        "late after the end of that day.",
    )
    order_value: Money = Field(description="Total paid by the customer, taxes included.")
    parcels: tuple[Parcel, ...] = Field(min_length=1, max_length=50)
    items: tuple[LineItem, ...] = Field(
        default=(),
        description="The order's contents, for the parcels that list none of their own "
        "(left empty: every item the parcels list).",
    )
    delay: DeclaredDelay | None = Field(
        default=None,
        description="The merchant declares the order late (POST /v1/orders/{id}/delay sets "
        "it): why, and the new dates, which this snapshot's promises already hold.",
    )

    partition_key_field = "order_id"

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        ids = [parcel.shipment_id for parcel in self.parcels]
        if len(set(ids)) != len(ids):
            raise ValueError("two parcels share a shipment_id")
        numbers = [(p.carrier, p.tracking_number) for p in self.parcels if p.tracking_number]
        if len(set(numbers)) != len(numbers):
            raise ValueError("two parcels share a carrier and tracking number")
        if (
            self.promised_delivery_from is not None
            and self.promised_delivery_by is not None
            and self.promised_delivery_from > self.promised_delivery_by
        ):
            raise ValueError("promised_delivery_from is after promised_delivery_by")
        return self

    def contents(self) -> tuple[LineItem, ...]:
        """The order's items: as declared, else every parcel's items in parcel order."""
        return self.items or tuple(item for parcel in self.parcels for item in parcel.items)


class OrderPlaced(_OrderSnapshot):
    """A new order to follow. `occurred_at` is when it was placed."""

    event_type: Literal["OrderPlaced"] = "OrderPlaced"
    schema_version: Literal[1] = 1


class OrderUpdated(_OrderSnapshot):
    """The order changed (shipped, new parcel, new address, new promise): the full new
    content, replacing the previous one."""

    event_type: Literal["OrderUpdated"] = "OrderUpdated"
    schema_version: Literal[1] = 1


class CancellationReason(StrEnum):
    CUSTOMER_REQUEST = "customer_request"
    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_FAILED = "payment_failed"
    FRAUD = "fraud"
    OTHER = "other"


class OrderCancelled(MerchantEvent):
    """The whole order is cancelled: its shipments stop being followed and their open
    anomalies are resolved (order_cancelled)."""

    event_type: Literal["OrderCancelled"] = "OrderCancelled"
    schema_version: Literal[1] = 1
    order_id: OrderId
    reason: CancellationReason = CancellationReason.OTHER

    partition_key_field = "order_id"


OrderEvent = OrderPlaced | OrderUpdated | OrderCancelled

TOPIC = Topic(
    name="relais.orders.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<order_id>`",
    message_types=(OrderPlaced, OrderUpdated, OrderCancelled),
    producers=(Service.MERCHANT, Service.TRACKER),
    consumers=(Service.TRACKER, Service.INSIGHTS),
    partitions=6,
    retention_ms=14 * 24 * 3600 * 1000,
)
