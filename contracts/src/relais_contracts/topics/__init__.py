"""One module per topic; ALL_TOPICS is the registry every tool reads."""

from __future__ import annotations

from relais_contracts.registry import Topic
from relais_contracts.topics import (
    action_commands,
    action_results,
    anomalies,
    carrier_updates,
    conversations,
    dead_letters,
    desk_replies,
    notification_commands,
    notifications,
    orders,
    shipment_state,
    tracking_events,
)

ALL_TOPICS: tuple[Topic, ...] = (
    orders.TOPIC,
    carrier_updates.TOPIC,
    tracking_events.TOPIC,
    shipment_state.TOPIC,
    anomalies.TOPIC,
    notifications.TOPIC,
    notification_commands.TOPIC,
    conversations.TOPIC,
    action_commands.TOPIC,
    *action_commands.RETRY_TOPICS,
    action_results.TOPIC,
    desk_replies.TOPIC,
    dead_letters.TOPIC,
)


def topic_named(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"no topic named {name!r} in the registry")


def topic_of(event_type: str) -> Topic:
    """The main topic carrying `event_type` (ExecuteAction: the first-attempt topic)."""
    for topic in ALL_TOPICS:
        if event_type in topic.event_types:
            return topic
    raise KeyError(f"no topic carries event type {event_type!r}")
