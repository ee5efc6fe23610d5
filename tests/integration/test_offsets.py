"""A new consumer group can start at "now" instead of replaying a topic's history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from relais_runtime.offsets import start_new_groups_now
from tests.conftest import Infrastructure


async def test_only_groups_without_offsets_are_moved_to_the_end(
    infrastructure: Infrastructure, new_topic: Callable[..., Any], producer: Any, unique: str
) -> None:
    topic = await new_topic(f"relais.test-offsets-{unique}.v1", partitions=2)
    for partition, count in ((0, 3), (1, 1)):
        for _ in range(count):
            await producer.send_and_wait(topic, value=b"history", partition=partition)
    fresh, existing = f"test-{unique}.fresh", f"test-{unique}.existing"
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await admin.start()
    try:
        await start_new_groups_now(
            bootstrap=infrastructure.kafka_bootstrap, groups=[(existing, topic)]
        )
        await producer.send_and_wait(topic, value=b"later", partition=0)
        await start_new_groups_now(
            bootstrap=infrastructure.kafka_bootstrap, groups=[(fresh, topic), (existing, topic)]
        )
        fresh_offsets = await admin.list_consumer_group_offsets(fresh)
        existing_offsets = await admin.list_consumer_group_offsets(existing)
    finally:
        await admin.close()
    assert {tp.partition: meta.offset for tp, meta in fresh_offsets.items()} == {0: 4, 1: 1}
    assert existing_offsets[TopicPartition(topic, 0)].offset == 3
