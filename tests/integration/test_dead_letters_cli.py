"""`relais dead-letters list|show|replay` against the real broker.

Letters are published to the shared dead-letter topic with this run's own consumer
groups and source topic, so earlier runs' letters never disturb the assertions.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from typer.testing import CliRunner, Result

from relais_cli.dead_letters import parse_letter, replay_hazard
from relais_cli.dead_letters_kafka import later_offsets
from relais_cli.main import app
from relais_contracts.topics import dead_letters
from relais_contracts.topics.dead_letters import MessageDeadLettered
from relais_runtime.dead_letters import REPLAY_FOR_HEADER, REPLAY_OF_HEADER, build_dead_letter
from relais_runtime.kafka import publish_events
from tests.conftest import Infrastructure
from tests.integration.conftest import read_topic

ORIGINAL = b'{"event_type": "OrderPlaced", "order_id": "o-1", "note": "caf\xc3\xa9"}'
BINARY = b"\xff\x00 not json at all"


def consumed(
    topic: str, offset: int, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=topic,
        partition=1,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=headers,
    )


async def relais(*args: str) -> Result:
    """The real command, in a worker thread (it runs its own event loop)."""

    def invoke() -> Result:
        return CliRunner().invoke(app, ["dead-letters", *args], catch_exceptions=False)

    return await asyncio.to_thread(invoke)


async def end_offsets_total(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, partition) for partition in range(3)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def test_list_show_and_replay(
    infrastructure: Infrastructure,
    producer: AIOKafkaProducer,
    new_topic: Callable[..., Any],
    unique: str,
) -> None:
    bootstrap = infrastructure.kafka_bootstrap
    source = await new_topic(f"relais.test-dead-letters-{unique}.v1", partitions=3)
    group, other_group = f"test-dl-{unique}", f"test-dl-{unique}-other"
    headers = [("content-type", b"application/json"), ("event_type", b"OrderPlaced")]
    failed = build_dead_letter(
        consumed(source, 10, b"acme/o-1", ORIGINAL, headers),
        group=group,
        kind="handler_failed",
        message="ValueError: merchant 'acme' is not configured",
    )
    garbled = build_dead_letter(
        consumed(source, 11, None, BINARY, []),
        group=group,
        kind="undecodable",
        message="(root): Invalid JSON",
    )
    invalid = build_dead_letter(
        consumed(source, 12, b"acme/o-2", b"{}", []),
        group=other_group,
        kind="invalid",
        message="order_id: Field required",
    )
    letters: list[MessageDeadLettered] = [failed, garbled, invalid]
    await publish_events(producer, topic=dead_letters.TOPIC.name, events=letters)
    common = ["--since", "15m", "--bootstrap", bootstrap]

    # list: by group, by reason kind, by source topic; as JSON and as a table
    by_group = await relais("list", "--group", group, "--json", *common)
    assert by_group.exit_code == 0, by_group.output
    rows = json.loads(by_group.stdout)
    assert [row["event_id"] for row in rows] == [str(failed.event_id), str(garbled.event_id)]
    assert rows[0]["source_topic"] == source
    assert rows[0]["source_offset"] == 10
    assert rows[0]["reason"]["kind"] == "handler_failed"
    assert "value" not in rows[0]
    by_kind = await relais("list", "--group", group, "--kind", "undecodable", "--json", *common)
    assert [row["event_id"] for row in json.loads(by_kind.stdout)] == [str(garbled.event_id)]
    by_topic = await relais("list", "--topic", source, "--json", *common)
    assert {row["event_id"] for row in json.loads(by_topic.stdout)} == {
        str(letter.event_id) for letter in letters
    }
    limited = await relais("list", "--topic", source, "--limit", "1", "--json", *common)
    assert len(json.loads(limited.stdout)) == 1
    table = await relais("list", "--topic", source, *common)
    assert table.exit_code == 0, table.output
    for letter in letters:
        assert str(letter.event_id) in table.stdout
    assert "handler_failed" in table.stdout
    assert "3 of 3 matching" in table.stderr
    nothing = await relais("list", "--group", group, "--until", "10m", "--json", *common)
    assert json.loads(nothing.stdout) == []

    # show: JSON values pretty, other bytes in base64, headers
    shown = await relais("show", str(failed.event_id), "--json", "--bootstrap", bootstrap)
    assert shown.exit_code == 0, shown.output
    about = json.loads(shown.stdout)
    assert about["value_format"] == "json"
    assert about["value"] == json.loads(ORIGINAL)
    assert about["key"] == "acme/o-1"
    assert about["headers"] == {"content-type": "application/json", "event_type": "OrderPlaced"}
    shown = await relais("show", str(garbled.event_id), "--json", "--bootstrap", bootstrap)
    about = json.loads(shown.stdout)
    assert about["value_format"] == "base64"
    assert base64.b64decode(about["value"]) == BINARY
    assert about["key"] is None
    pretty = await relais("show", str(failed.event_id), "--bootstrap", bootstrap)
    assert pretty.exit_code == 0, pretty.output
    assert '"order_id": "o-1"' in pretty.stdout
    assert "is not configured" in pretty.stdout
    missing = await relais("show", "00000000-0000-0000-0000-000000000000", "--bootstrap", bootstrap)
    assert missing.exit_code == 1

    # replay: refuses without a selection, dry run publishes nothing, then one letter
    unselected = await relais("replay", "--bootstrap", bootstrap)
    assert unselected.exit_code == 2
    unknown = await relais("replay", "00000000-0000-0000-0000-000000000000", *common)
    assert unknown.exit_code == 1
    dry = await relais("replay", "--group", group, "--kind", "handler_failed", "--dry-run", *common)
    assert dry.exit_code == 0, dry.output
    assert f"would replay {failed.event_id} for {group}" in dry.stdout
    assert await end_offsets_total(bootstrap, source) == 0
    done = await relais("replay", str(failed.event_id), "--json", *common)
    assert done.exit_code == 0, done.output
    [result] = json.loads(done.stdout)
    assert result["dead_letter_id"] == str(failed.event_id)
    assert result["topic"] == source
    records = await read_topic(bootstrap, source, until=lambda records: len(records) >= 1)
    [record] = records
    assert (record.partition, record.offset) == (result["partition"], result["offset"])
    assert record.key == b"acme/o-1"
    assert record.value == ORIGINAL
    assert list(record.headers) == [
        *headers,
        (REPLAY_FOR_HEADER, group.encode()),
        (REPLAY_OF_HEADER, str(failed.event_id).encode()),
    ]
    assert await end_offsets_total(bootstrap, source) == 1


async def test_later_records_of_a_key_are_found_on_its_source_partition(
    infrastructure: Infrastructure,
    producer: AIOKafkaProducer,
    new_topic: Callable[..., Any],
    unique: str,
) -> None:
    """What `replay` checks before replaying onto a compacted topic: a key written again
    after the dead-lettered record is superseded."""
    bootstrap = infrastructure.kafka_bootstrap
    source = await new_topic(f"relais.test-dead-letters-later-{unique}.v1", partitions=1)
    for key in (b"acme/s-1", b"acme/s-2", b"acme/s-1", b"acme/s-3"):
        await producer.send_and_wait(source, value=b"{}", key=key, partition=0)
    letters = [
        parse_letter(
            build_dead_letter(
                consumed(source, offset, key, b"{}", []), group="g", kind="invalid", message="x"
            )
            .model_dump_json()
            .encode(),
            partition=0,
            offset=0,
        )
        for offset, key in ((0, b"acme/s-1"), (1, b"acme/s-2"), (2, b"acme/s-1"))
    ]
    letters = [letter.model_copy(update={"source_partition": 0}) for letter in letters]

    later = await later_offsets(bootstrap, letters)

    assert later == {(source, 0, b"acme/s-1"): 2, (source, 0, b"acme/s-2"): 1}
    first, second, third = letters
    assert replay_hazard(first, compacted=True, later_offset=later.get((source, 0, b"acme/s-1")))
    assert replay_hazard(second, compacted=True, later_offset=None) is None
    assert replay_hazard(third, compacted=True, later_offset=2) is None
