"""The topics insights reads, and the consumer group of each.

Rules:
- one consumer group per topic, `insights.<topic>` (under the runtime's
  RELAIS_CONSUMER_GROUP_PREFIX): a rebuild rewinds each of them to the start;
- the shipment state (compacted) keeps snapshots; every other topic leaves facts.
"""

from __future__ import annotations

from relais_contracts.registry import Topic
from relais_contracts.topics import (
    action_commands,
    action_results,
    anomalies,
    conversations,
    notifications,
    orders,
    shipment_state,
    tracking_events,
)

STATE_TOPIC = shipment_state.TOPIC

FACT_TOPICS: tuple[Topic, ...] = (
    orders.TOPIC,
    tracking_events.TOPIC,
    anomalies.TOPIC,
    notifications.TOPIC,
    conversations.TOPIC,
    action_commands.TOPIC,
    action_results.TOPIC,
)

CONSUMED_TOPICS: tuple[Topic, ...] = (STATE_TOPIC, *FACT_TOPICS)


def group_of(topic: Topic) -> str:
    """`insights.orders` for relais.orders.v1."""
    return "insights." + topic.name.removeprefix("relais.").rsplit(".v", 1)[0]
