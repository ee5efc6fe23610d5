"""Dead letters: the messages that are themselves bad, kept with their reason for an operator.

Only a message's own fault sends it here (undecodable, invalid, unknown event type,
refused by the domain, a dependency that never arrived); an infrastructure failure
never does (relais_runtime.failures). A letter keeps the original bytes, key, headers,
topic, partition and offset, so `relais dead-letters replay` can send it again to the
one consumer group that failed (header `relais-replay-for`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError

from relais_contracts.envelope import Event, utc_now
from relais_contracts.topics import dead_letters
from relais_runtime.kafka import publish_events
from relais_runtime.metrics import DEAD_LETTERS

REPLAY_FOR_HEADER = "relais-replay-for"
"""A replayed record carries the consumer group it is for; every other group skips it."""
REPLAY_OF_HEADER = "relais-replay-of"
"""The event id of the dead letter a replayed record comes from."""


class DeadLetterKind(StrEnum):
    UNDECODABLE = "undecodable"
    INVALID = "invalid"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    HANDLER_FAILED = "handler_failed"
    DEPENDENCY_MISSING = "dependency_missing"


async def send_dead_letter(
    producer: AIOKafkaProducer,
    record: ConsumerRecord[Any, Any],
    *,
    group: str,
    kind: str,
    message: str,
    attempts: int = 1,
    event: Event | None = None,
) -> None:
    """Publish the dead letter of `record` (acks=all) and count it; the caller commits
    the record's offset only after this returns. Raises when Kafka does not accept it
    (a transient failure: the caller waits and tries again)."""
    letter = build_dead_letter(
        record, group=group, kind=kind, message=message, attempts=attempts, event=event
    )
    await publish_events(producer, topic=dead_letters.TOPIC.name, events=[letter])
    DEAD_LETTERS.labels(group=group, topic=record.topic, kind=kind).inc()


def build_dead_letter(
    record: ConsumerRecord[Any, Any],
    *,
    group: str,
    kind: str,
    message: str,
    attempts: int = 1,
    event: Event | None = None,
) -> dead_letters.MessageDeadLettered:
    encode = dead_letters.MessageDeadLettered.encode_bytes
    return dead_letters.MessageDeadLettered(
        occurred_at=utc_now(),
        merchant_id=event.merchant_id if event else "unknown",
        correlation_id=event.correlation_id
        if event
        else f"{record.topic}/{record.partition}/{record.offset}",
        consumer_group=group,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_key_b64=encode(record.key) if record.key is not None else None,
        source_headers=text_headers(record.headers),
        original_value_b64=encode(record.value or b""),
        reason=dead_letters.DeadLetterReason(kind=kind, message=message[:4000], attempts=attempts),
    )


def text_headers(headers: Any) -> dict[str, str]:
    pairs: Mapping[str, bytes] = dict(headers or ())
    return {name: value.decode("utf-8", "replace") for name, value in pairs.items()}


def decode_error_kind(error: ValidationError) -> str:
    types = {problem["type"] for problem in error.errors()}
    if "json_invalid" in types or "json_type" in types:
        return DeadLetterKind.UNDECODABLE.value
    if "union_tag_invalid" in types or any(
        problem["loc"] == ("event_type",) for problem in error.errors()
    ):
        return DeadLetterKind.UNKNOWN_EVENT_TYPE.value
    return DeadLetterKind.INVALID.value


def short_reason(error: BaseException) -> str:
    """The reason without input values (they may hold personal data)."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(root)'}: {problem['msg']}"
            for problem in error.errors(include_url=False, include_input=False)
        )[:4000]
    return str(error)[:500]


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {short_reason(error)}"


def replay_target(record: ConsumerRecord[Any, Any]) -> str | None:
    """The consumer group a replayed record is for, or None for an ordinary record."""
    for name, value in record.headers or ():
        if name == REPLAY_FOR_HEADER:
            return bytes(value).decode("utf-8", "replace")
    return None
