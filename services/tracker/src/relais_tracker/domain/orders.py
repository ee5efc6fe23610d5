"""What the tracker remembers of a merchant's order (pure, no I/O).

Rules:
- an order is identified by (merchant_id, order_id): one merchant never sees or
  overwrites another's order;
- OrderPlaced and OrderUpdated are whole snapshots; a cancellation keeps the last
  snapshot and marks the order cancelled;
- events are applied by event time: an older event arriving late never
  overwrites a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from relais_contracts.topics.orders import OrderCancelled, OrderPlaced, OrderUpdated

OrderEvent = OrderPlaced | OrderUpdated | OrderCancelled

ENVELOPE_FIELDS = frozenset(
    {"event_id", "event_type", "schema_version", "occurred_at", "produced_at", "merchant_id"}
)
"""Fields of an order event that its publisher sets, never the merchant who sends it."""


class OrderState(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class OrderRecord:
    merchant_id: str
    order_id: str
    state: OrderState
    as_of: datetime
    order_number: str | None = None
    parcel_count: int | None = None
    snapshot_json: str | None = None


def order_record_from(event: OrderEvent) -> OrderRecord:
    if isinstance(event, OrderCancelled):
        return OrderRecord(
            merchant_id=event.merchant_id,
            order_id=event.order_id,
            state=OrderState.CANCELLED,
            as_of=event.occurred_at,
        )
    return OrderRecord(
        merchant_id=event.merchant_id,
        order_id=event.order_id,
        state=OrderState.OPEN,
        as_of=event.occurred_at,
        order_number=event.order_number,
        parcel_count=len(event.parcels),
        snapshot_json=event.model_dump_json(),
    )


def supersedes(*, incoming: OrderRecord, stored_as_of: datetime | None) -> bool:
    """Whether the incoming record is at least as recent as what is stored."""
    return stored_as_of is None or incoming.as_of >= stored_as_of
