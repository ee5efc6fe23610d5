"""relais.shipment-state.v1: the full current state of each shipment (compacted).

Rules:
- compacted and keyed by `<merchant_id>/<shipment_id>`: the latest record of a key is
  the shipment's whole current state, so a consumer can rebuild its projection by
  reading the topic from the beginning;
- every record is a complete snapshot, never a delta; `version` grows by one at each
  change of a shipment: a consumer ignores a record whose version is not above the
  one it holds (replays, outbox re-sends);
- it joins the order (promises, delivery mode, pickup point, customer contact) with
  the carrier's facts (status, last event, estimate), so the detector, the notifier
  and the chat need no other topic to act on a shipment;
- the customer's contact lives here (and on the orders topic) only; it is personal
  data and consumers keep it only as long as they need it;
- to forget a shipment (retention, erasure request), the tracker publishes a
  tombstone (the key with a null value); consumers then delete their copy.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from relais_contracts.common import (
    CarrierCode,
    CustomerContact,
    Delivery,
    DeliveryMode,
    Money,
    TrackingNumber,
)
from relais_contracts.envelope import Contract, OrderId, ShipmentEvent
from relais_contracts.privacy import PERSONAL
from relais_contracts.registry import Cleanup, Service, Topic
from relais_contracts.shipment import DeclaredDelay, ShipmentContext, ShipmentItem
from relais_contracts.text import SingleLine
from relais_contracts.tracking import (
    DeliveryEstimate,
    Incident,
    Location,
    Substatus,
    TrackingStatus,
    check_pair,
    is_final,
)


class StateChangeCause(StrEnum):
    ORDER_PLACED = "order_placed"
    ORDER_UPDATED = "order_updated"
    ORDER_CANCELLED = "order_cancelled"
    TRACKING_EVENT = "tracking_event"
    """A carrier event (possibly an older one arriving late)."""


class LastTrackingEvent(Contract):
    """The latest carrier event by event time."""

    event_id: UUID
    occurred_at: AwareDatetime
    status: TrackingStatus
    substatus: Substatus
    carrier_code: SingleLine = Field(min_length=1, max_length=64)
    description: SingleLine = Field(max_length=500)
    location: Location | None = None


class ShipmentStateChanged(ShipmentEvent):
    """A shipment's state after a change. `occurred_at` is the event time of the fact
    that caused it."""

    event_type: Literal["ShipmentStateChanged"] = "ShipmentStateChanged"
    schema_version: Literal[1] = 1
    version: int = Field(ge=1, description="Grows by one at each change of this shipment.")
    cause: StateChangeCause
    cause_event_id: UUID = Field(description="The order or tracking event that caused it.")

    order_id: OrderId
    order_number: SingleLine = Field(min_length=1, max_length=64)
    parcel_index: int = Field(default=1, ge=1)
    parcel_count: int = Field(default=1, ge=1)
    placed_at: AwareDatetime
    order_value: Money | None = None
    cancelled: bool = Field(default=False, description="The order was cancelled.")
    items: tuple[ShipmentItem, ...] = Field(
        default=(),
        description="What this parcel contains: its own items, else the order's (empty: "
        "the merchant listed none; records written before items existed decode so).",
    )

    carrier: CarrierCode | None = Field(default=None, description="None until shipped.")
    tracking_number: TrackingNumber | None = Field(default=None, description="None until shipped.")
    status: TrackingStatus
    substatus: Substatus
    incident: Incident | None = Field(
        default=None, description="The incident of the current status, if any."
    )
    status_since: AwareDatetime = Field(description="Event time the current status began.")
    last_event: LastTrackingEvent | None = Field(
        default=None, description="None before the first carrier event."
    )
    shipped_at: AwareDatetime | None = Field(
        default=None,
        description="When it left the merchant: the merchant's shipped_at or the first "
        "carrier event, whichever is earlier.",
    )
    delivered_at: AwareDatetime | None = None
    failed_attempts: int = Field(default=0, ge=0, description="Failed delivery attempts so far.")
    final: bool = Field(description="No more carrier events expected (tracking.is_final).")

    promised_ship_by: AwareDatetime | None = None
    promised_delivery_from: date | None = None
    promised_delivery_by: date | None = Field(
        default=None, description="Last promised day, in the customer's time zone."
    )
    estimated_delivery: DeliveryEstimate | None = Field(
        default=None, description="The carrier's latest estimate."
    )
    declared_delay: DeclaredDelay | None = Field(
        default=None,
        description="The merchant declared the order late (the promises above are the new "
        "ones); None when it did not.",
    )

    delivery: Delivery
    pickup_hold_deadline: AwareDatetime | None = Field(
        default=None,
        description="When the pickup point sends the parcel back; set while it waits there.",
    )
    customer: CustomerContact = Field(json_schema_extra=PERSONAL)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        check_pair(self.status, self.substatus)
        if (self.carrier is None) != (self.tracking_number is None):
            raise ValueError("carrier and tracking_number go together: both or neither")
        if self.final and not (is_final(self.substatus) or self.cancelled):
            raise ValueError(f"final, but substatus {self.substatus.value!r} is not final")
        if self.parcel_index > self.parcel_count:
            raise ValueError("parcel_index is past parcel_count")
        return self

    def context(self) -> ShipmentContext:
        """The non-personal snapshot that anomalies, milestones and actions carry."""
        pickup_point = self.delivery.pickup_point
        return ShipmentContext(
            order_id=self.order_id,
            order_number=self.order_number,
            carrier=self.carrier,
            tracking_number=self.tracking_number,
            status=self.status,
            substatus=self.substatus,
            delivery_mode=self.delivery.mode,
            pickup_point=pickup_point if self.delivery.mode is DeliveryMode.PICKUP_POINT else None,
            pickup_hold_deadline=self.pickup_hold_deadline,
            promised_delivery_by=self.promised_delivery_by,
            estimated_delivery=self.estimated_delivery,
            order_value=self.order_value,
            parcel_index=self.parcel_index,
            parcel_count=self.parcel_count,
            items=self.items,
            declared_delay=self.declared_delay,
        )


TOPIC = Topic(
    name="relais.shipment-state.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<shipment_id>`",
    message_types=(ShipmentStateChanged,),
    producers=(Service.TRACKER,),
    consumers=(
        Service.DETECTOR,
        Service.NOTIFIER,
        Service.CHAT,
        Service.ACTIONS,
        Service.INSIGHTS,
    ),
    partitions=6,
    cleanup=Cleanup.COMPACT,
    retention_ms=None,
    extra_config={
        "min.cleanable.dirty.ratio": "0.1",
        "segment.ms": str(24 * 3600 * 1000),
        "delete.retention.ms": str(24 * 3600 * 1000),
    },
)
