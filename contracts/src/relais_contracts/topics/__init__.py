"""One module per topic; ALL_TOPICS is the registry every tool reads."""

from __future__ import annotations

from relais_contracts.registry import Topic
from relais_contracts.topics import dead_letters

ALL_TOPICS: tuple[Topic, ...] = (dead_letters.TOPIC,)


def topic_named(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"no topic named {name!r} in the registry")
