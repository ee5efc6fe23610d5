"""The tracker's pure domain logic (no I/O): orders, shipments, carrier events."""

from relais_tracker.domain.orders import (
    OrderEvent,
    OrderRecord,
    OrderState,
    order_record_from,
    supersedes,
)

__all__ = ["OrderEvent", "OrderRecord", "OrderState", "order_record_from", "supersedes"]
