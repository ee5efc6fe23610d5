"""Where a consumer group that has never committed starts reading.

`earliest` (the default) replays the topic from its beginning: nothing is ever
missed. `now` commits the topic's current end offsets for a group that has no
committed offsets yet, before the group's consumer starts: the group then sees
exactly what is produced from that moment on. Tests use it so a fresh group
does not replay every earlier run's history; operators can use it to add a
consumer to a long-lived topic deliberately. A group with committed offsets is
never moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential


def _retriable(error: BaseException) -> bool:
    """Kafka's own verdict: e.g. the group coordinator of a new cluster is still starting."""
    return bool(getattr(error, "retriable", False))


async def start_new_groups_now(
    *,
    bootstrap: str,
    groups: Iterable[tuple[str, str]],
    security: Mapping[str, Any] | None = None,
) -> None:
    """For each (group, topic) without committed offsets, commit the topic's end offsets.

    Retriable Kafka errors (a coordinator not available yet on a fresh broker) are
    retried with backoff for up to a minute.
    """
    pending = list(groups)
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_retriable),
        stop=stop_after_delay(60),
        wait=wait_exponential(multiplier=0.2, max=3),
        reraise=True,
    ):
        with attempt:
            await _start_groups_now(bootstrap=bootstrap, groups=pending, security=security or {})


async def _start_groups_now(
    *, bootstrap: str, groups: list[tuple[str, str]], security: Mapping[str, Any]
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    try:
        for group, topic in groups:
            if await admin.list_consumer_group_offsets(group):
                continue
            partitions = await _partitions(admin, topic)
            await _commit_offsets(
                bootstrap=bootstrap,
                group=group,
                partitions=partitions,
                end=True,
                security=security,
            )
    finally:
        await admin.close()


async def rewind_group(
    *, bootstrap: str, group: str, topic: str, security: Mapping[str, Any] | None = None
) -> None:
    """Move `group` to the beginning of `topic`: its next consumer replays everything
    the topic still holds. Kafka refuses while the group has a live member."""
    options = dict(security or {})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        partitions = await _partitions(admin, topic)
    finally:
        await admin.close()
    await _commit_offsets(
        bootstrap=bootstrap, group=group, partitions=partitions, end=False, security=options
    )


async def _partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    described = await admin.describe_topics([topic])
    return [
        TopicPartition(topic, entry["partition"])
        for description in described
        for entry in description["partitions"]
    ]


async def _commit_offsets(
    *,
    bootstrap: str,
    group: str,
    partitions: list[TopicPartition],
    end: bool,
    security: Mapping[str, Any],
) -> None:
    """Commit each partition's end (or beginning) offset for `group`."""
    if not partitions:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **security
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        offsets = await (
            consumer.end_offsets(partitions) if end else consumer.beginning_offsets(partitions)
        )
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()
