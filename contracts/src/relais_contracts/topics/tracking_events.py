"""relais.tracking-events.v1: every carrier event, normalized, once per shipment.

Rules:
- published by the tracker once the event is matched to a shipment (events that
  arrive before their order are held, then published when reconciled);
- `event_id` is `ids.recorded_tracking_event_id(merchant_id, ids.tracking_event_id(
  carrier, tracking_number, carrier_code, occurred_at))`: a carrier re-sending an event
  produces the same id, and consumers drop it as a duplicate; two merchants following
  the same tracking number get distinct ids;
- `occurred_at` is the carrier's event time with its offset (a carrier time without
  a zone is read in the carrier's documented zone);
- events may arrive out of order: consumers order a shipment's events by
  `occurred_at`, the shipment state already does;
- status, substatus and incident follow relais_contracts.tracking.
"""

from __future__ import annotations

from typing import Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from relais_contracts.common import CarrierCode, TrackingNumber
from relais_contracts.envelope import OrderId, ShipmentEvent
from relais_contracts.registry import Service, Topic
from relais_contracts.text import OptionalSingleLine, SingleLine
from relais_contracts.topics.carrier_updates import UpdateSource
from relais_contracts.tracking import (
    DeliveryEstimate,
    Incident,
    Location,
    Substatus,
    TrackingStatus,
    check_pair,
)


class TrackingEventRecorded(ShipmentEvent):
    """One carrier event, normalized."""

    event_type: Literal["TrackingEventRecorded"] = "TrackingEventRecorded"
    schema_version: Literal[1] = 1
    order_id: OrderId
    carrier: CarrierCode
    tracking_number: TrackingNumber
    status: TrackingStatus
    substatus: Substatus
    incident: Incident | None = Field(default=None, description="Set for problems only.")
    description: SingleLine = Field(
        max_length=500,
        description="The carrier's own wording of the event (its control characters "
        "neutralized by the adapter).",
    )
    location: Location | None = None
    carrier_code: SingleLine = Field(
        min_length=1, max_length=64, description="The carrier's own event code."
    )
    carrier_reason_code: OptionalSingleLine = Field(
        default=None, max_length=64, description="The carrier's reason code, if separate."
    )
    code_recognized: bool = Field(
        default=True,
        description="False when the adapter did not know carrier_code and recorded the "
        "safe default (tracking.UNKNOWN_CODE_DEFAULT).",
    )
    estimated_delivery: DeliveryEstimate | None = Field(
        default=None, description="The carrier's estimate given with this event, if any."
    )
    source: UpdateSource
    carrier_update_id: UUID | None = Field(
        default=None, description="The CarrierUpdateReceived it was read from."
    )

    @model_validator(mode="after")
    def _pair(self) -> Self:
        check_pair(self.status, self.substatus)
        return self


TOPIC = Topic(
    name="relais.tracking-events.v1",
    description=__doc__ or "",
    key="`<merchant_id>/<shipment_id>`",
    message_types=(TrackingEventRecorded,),
    producers=(Service.TRACKER,),
    consumers=(Service.CHAT, Service.INSIGHTS),
    partitions=6,
    retention_ms=30 * 24 * 3600 * 1000,
)
