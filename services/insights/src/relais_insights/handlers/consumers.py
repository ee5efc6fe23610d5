"""The insights consumers, one per topic of the flow.

Rules:
- every consumed event leaves exactly one fact (domain.facts), written in the
  consumer's transaction with the claim of its event id: at-least-once delivery,
  exactly-once facts; a message type no fact is mapped for is dead-lettered;
- the shipment state (compacted) keeps the newest snapshot per shipment; its
  tombstone erases the snapshot and the survey comments of that shipment, and the
  back office's row and timeline of it (service.office_orders) and its desk cases
  (service.desk: callbacks and escalations open cases);
- a notifier outcome carrying a campaign id also moves that campaign's progress
  (service.campaigns);
- rebuilding: an empty schema and new consumer groups replay every topic from the
  start (`relais insights rebuild`); the groups are `insights.<topic>` under the
  runtime's RELAIS_CONSUMER_GROUP_PREFIX (relais_insights.topics).
"""

from __future__ import annotations

from collections.abc import Callable

from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.registry import Topic
from relais_contracts.topics import shipment_state
from relais_insights import repository
from relais_insights.domain.facts import fact_of, shipment_fact
from relais_insights.service import campaigns, desk, office_orders, review_queue
from relais_insights.topics import FACT_TOPICS, STATE_TOPIC, group_of
from relais_runtime import metrics
from relais_runtime.consumer import MessageContext, Subscription
from relais_runtime.failures import unexpected_event


async def on_fact(event: Event, context: MessageContext) -> None:
    fact = fact_of(event)
    if fact is None:
        unexpected_event(event, where=context.topic)
    await repository.create_fact(context.connection, merchant_id=event.merchant_id, fact=fact)
    await office_orders.project_event(context.connection, event)
    await review_queue.project_event(context.connection, event)
    await desk.project_event(context.connection, event)
    await campaigns.project_event(context.connection, event)
    metrics.INSIGHTS_FACTS.labels(kind=fact.kind).inc()


async def on_shipment_state(event: Event, context: MessageContext) -> None:
    match event:
        case shipment_state.ShipmentStateChanged():
            await repository.update_shipment(
                context.connection, merchant_id=event.merchant_id, shipment=shipment_fact(event)
            )
            await office_orders.project_state(context.connection, event)
        case _:
            unexpected_event(event, where=context.topic)


async def on_shipment_erased(key: bytes, context: MessageContext) -> None:
    merchant_id, shipment_id = split_partition_key(key)
    await repository.delete_shipment(
        context.connection, merchant_id=merchant_id, shipment_id=shipment_id
    )
    await office_orders.erase_shipment(
        context.connection, merchant_id=merchant_id, shipment_id=shipment_id
    )
    await review_queue.erase_shipment(
        context.connection, merchant_id=merchant_id, shipment_id=shipment_id
    )
    await desk.erase_shipment(context.connection, merchant_id=merchant_id, shipment_id=shipment_id)


TopicMap = Callable[[Topic], Topic]


def same_topic(topic: Topic) -> Topic:
    return topic


def subscriptions(topic_map: TopicMap = same_topic) -> tuple[Subscription, ...]:
    """One consumer group per topic; `topic_map` lets a test read its own copies."""
    return (
        Subscription(
            topic_map(STATE_TOPIC),
            group_of(STATE_TOPIC),
            on_shipment_state,
            on_tombstone=on_shipment_erased,
        ),
        *(Subscription(topic_map(topic), group_of(topic), on_fact) for topic in FACT_TOPICS),
    )
