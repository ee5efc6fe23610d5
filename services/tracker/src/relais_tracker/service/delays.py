"""Declaring an order late through the order API: the stored order, the declaration
applied (domain.delays), ready to publish as an OrderUpdated.

Rules: only the merchant's own order is found (another's is missing, like an erased
one: 404); a cancelled order cannot be delayed (409); a declaration the domain refuses
is a 422 naming each field; the tracker's tables are never written here (the published
OrderUpdated is applied like any order event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from relais_contracts.topics.orders import OrderPlaced, OrderUpdated
from relais_tracker import repository
from relais_tracker.domain.delays import DelayDeclaration, delay_problems, delayed_order
from relais_tracker.domain.orders import OrderState


@dataclass(frozen=True)
class DelayRefused:
    """An HTTP answer instead of an event: its status and its `detail`."""

    status: int
    detail: Any


async def declare_delay(
    pool: asyncpg.Pool,
    *,
    merchant_id: str,
    order_id: str,
    declaration: DelayDeclaration,
    event_id: UUID,
    now: datetime,
) -> OrderUpdated | DelayRefused:
    async with pool.acquire() as connection:
        row = await repository.get_order(connection, merchant_id=merchant_id, order_id=order_id)
    if row is None or row["snapshot"] is None:
        return DelayRefused(404, f"no order {order_id!r}")
    if OrderState(row["state"]) is OrderState.CANCELLED:
        return DelayRefused(409, f"order {order_id!r} is cancelled")
    order = _stored_order(row["snapshot"])
    problems = delay_problems(declaration, time_zone=order.customer.time_zone, now=now)
    if problems:
        return DelayRefused(
            422, [{"loc": ["body", problem.field], "msg": problem.message} for problem in problems]
        )
    return delayed_order(order, declaration, event_id=event_id, now=now)


def _stored_order(text: str) -> OrderPlaced | OrderUpdated:
    data = json.loads(text)
    model = OrderPlaced if data.get("event_type") == "OrderPlaced" else OrderUpdated
    return model.model_validate(data)
