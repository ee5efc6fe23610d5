"""Counts of what happened to messages, by outcome (processed, duplicate, dead_lettered...)."""

from __future__ import annotations

from typing import TypeAlias

from aiokafka import ConsumerRecord, TopicPartition

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Fetched: TypeAlias = dict[TopicPartition, list[Record]]
Outcomes: TypeAlias = dict[str, int]


def add(outcomes: Outcomes, outcome: str, count: int = 1) -> None:
    if count:
        outcomes[outcome] = outcomes.get(outcome, 0) + count


def merge(into: Outcomes, other: Outcomes) -> None:
    for outcome, count in other.items():
        add(into, outcome, count)


def merged(*parts: Outcomes) -> Outcomes:
    total: Outcomes = {}
    for part in parts:
        merge(total, part)
    return total
