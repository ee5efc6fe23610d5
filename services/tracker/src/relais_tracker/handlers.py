"""The tracker's consumers and HTTP routes (thin: decode, call the domain, persist).

Skeleton scope (issue 2): the orders topic. Carrier webhooks, polling and the
shipment state arrive with issue 3.
"""

from __future__ import annotations

from relais_contracts.envelope import Event
from relais_contracts.topics import orders
from relais_runtime.consumer import MessageContext, PermanentError, Subscription
from relais_runtime.service import Dependencies, Wiring
from relais_tracker import domain, repository

ORDERS_GROUP = "tracker.orders"


async def on_order_event(event: Event, context: MessageContext) -> None:
    if not isinstance(event, orders.OrderPlaced | orders.OrderUpdated | orders.OrderCancelled):
        raise PermanentError(f"unexpected {event.event_type} on {orders.TOPIC.name}")
    record = domain.order_record_from(event)
    stored_as_of = await repository.get_order_as_of(
        context.connection, merchant_id=record.merchant_id, order_id=record.order_id
    )
    if domain.supersedes(incoming=record, stored_as_of=stored_as_of):
        await repository.update_order(context.connection, record=record)


def wire(dependencies: Dependencies) -> Wiring:
    return Wiring(
        subscriptions=[
            Subscription(topic=orders.TOPIC, group_id=ORDERS_GROUP, handler=on_order_event)
        ]
    )
