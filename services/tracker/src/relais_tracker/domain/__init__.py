"""The tracker's pure domain logic (no I/O): orders, shipments, carrier events."""

from relais_tracker.domain.orders import (
    ENVELOPE_FIELDS,
    OrderEvent,
    OrderRecord,
    OrderState,
    order_record_from,
    supersedes,
)

__all__ = [
    "ENVELOPE_FIELDS",
    "OrderEvent",
    "OrderRecord",
    "OrderState",
    "order_record_from",
    "supersedes",
]
