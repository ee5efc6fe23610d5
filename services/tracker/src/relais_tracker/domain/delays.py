"""A merchant's declaration that an order will be late, applied to its last snapshot (pure).

Rules:
- the declaration becomes an OrderUpdated of the stored order: the same order, its
  promises replaced by the new dates (a new ship-by time, a new last delivery day; a
  delivery window whose first day falls after the new last day loses its first day)
  and `delay` set to the declaration; every other field is the stored one;
- a new ship-by time must be in the future; a new last delivery day must be today or
  later in the customer's time zone, and not before the new ship-by day there: anything
  else is a problem naming the field, and nothing is published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from relais_contracts.shipment import DeclaredDelay, DelayReason
from relais_contracts.topics.orders import OrderPlaced, OrderUpdated
from relais_tracker.domain.orders import ENVELOPE_FIELDS


@dataclass(frozen=True)
class DelayDeclaration:
    """What the merchant says: why, in its own words if it wants, and the new dates."""

    reason: DelayReason
    note: str | None
    new_ship_by: datetime | None
    new_delivery_by: date | None


@dataclass(frozen=True)
class DelayProblem:
    field: str
    message: str


def delay_problems(
    declaration: DelayDeclaration, *, time_zone: str, now: datetime
) -> list[DelayProblem]:
    """Why the declaration cannot be applied (empty: it can)."""
    ship_by, delivery_by = declaration.new_ship_by, declaration.new_delivery_by
    if ship_by is None and delivery_by is None:
        message = "give new_ship_by or new_delivery_by (or both)"
        return [DelayProblem("new_ship_by", message), DelayProblem("new_delivery_by", message)]
    zone = ZoneInfo(time_zone)
    problems = []
    if ship_by is not None and ship_by <= now:
        problems.append(DelayProblem("new_ship_by", "is not in the future"))
    if delivery_by is not None:
        if delivery_by < now.astimezone(zone).date():
            problems.append(DelayProblem("new_delivery_by", "is before today"))
        elif ship_by is not None and delivery_by < ship_by.astimezone(zone).date():
            problems.append(DelayProblem("new_delivery_by", "is before new_ship_by"))
    return problems


def delayed_order(
    order: OrderPlaced | OrderUpdated,
    declaration: DelayDeclaration,
    *,
    event_id: UUID,
    now: datetime,
) -> OrderUpdated:
    """The stored order with the declaration applied (see the module rules)."""
    delay = DeclaredDelay(
        reason=declaration.reason,
        note=declaration.note,
        declared_at=now,
        new_ship_by=declaration.new_ship_by,
        new_delivery_by=declaration.new_delivery_by,
    )
    fields: dict[str, Any] = {
        name: getattr(order, name)
        for name in type(order).model_fields
        if name not in ENVELOPE_FIELDS and name != "delay"
    }
    delivery_by = declaration.new_delivery_by or order.promised_delivery_by
    delivery_from = order.promised_delivery_from
    if delivery_from is not None and delivery_by is not None and delivery_from > delivery_by:
        delivery_from = None
    fields.update(
        promised_ship_by=declaration.new_ship_by or order.promised_ship_by,
        promised_delivery_from=delivery_from,
        promised_delivery_by=delivery_by,
    )
    return OrderUpdated(
        **fields,
        delay=delay,
        event_id=event_id,
        occurred_at=now,
        produced_at=now,
        merchant_id=order.merchant_id,
    )
