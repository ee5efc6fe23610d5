"""`relais insights rebuild`: the schema goes, every insights group restarts at the
beginning of its topic."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from relais_insights.service.rebuild import rebuild
from relais_runtime.settings import RuntimeSettings
from tests.conftest import Infrastructure

pytestmark = pytest.mark.integration


async def test_rebuild_drops_the_schema_and_rewinds_every_group(
    infrastructure: Infrastructure,
) -> None:
    unique = uuid.uuid4().hex[:8]
    schema = f"test_insights_rebuild_{unique}"
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        consumer_group_prefix=f"test-{unique}.",
    )
    connection = await asyncpg.connect(infrastructure.database_url)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        await connection.execute(f'CREATE TABLE "{schema}".facts (id int)')
        groups = await rebuild(settings, schema=schema)
        gone = await connection.fetchval(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema
        )
    finally:
        await connection.close()
    assert gone == 0
    assert len(groups) == 8
    assert f"test-{unique}.insights.orders" in groups
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"test-{unique}.insights.orders")
    finally:
        await admin.close()
    assert {tp.partition for tp in offsets} == set(range(6))
    assert all(tp.topic == "relais.orders.v1" for tp in offsets)
    assert all(isinstance(tp, TopicPartition) for tp in offsets)
