"""Rebuild the insights schema from the topics (`relais insights rebuild`).

Rules:
- only with the insights service stopped: its consumer groups must have no member,
  or Kafka refuses to move their offsets (the error says so);
- the schema is dropped (facts, shipments, processed event ids, all of it), then each
  insights consumer group is moved to the beginning of its topic; at the next start
  the service migrates an empty schema and replays every topic;
- what a replay recovers is what the topics still hold: the shipment state is
  compacted (every shipment's latest state), the other topics keep 7 to 30 days.
"""

from __future__ import annotations

import asyncpg

from relais_insights.topics import CONSUMED_TOPICS, group_of
from relais_runtime.offsets import rewind_group
from relais_runtime.settings import RuntimeSettings

SCHEMA = "insights"


async def rebuild(settings: RuntimeSettings, *, schema: str = SCHEMA) -> list[str]:
    """Drop the schema and rewind the groups; returns the groups rewound."""
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
    groups = []
    for topic in CONSUMED_TOPICS:
        group = settings.consumer_group_prefix + group_of(topic)
        await rewind_group(bootstrap=settings.kafka_bootstrap, group=group, topic=topic.name)
        groups.append(group)
    return groups
