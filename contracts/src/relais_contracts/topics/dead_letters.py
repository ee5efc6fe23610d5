"""relais.dead-letters.v1: messages a consumer could not process, with the reason.

Dead-letter policy: a message that cannot be decoded or validated, or whose handler
failed permanently or exhausted its retries, is published here with the original
bytes, topic, partition and offset, then its offset is committed so the consumer
keeps going. Nothing is dropped silently. Keyed like the original message.
`merchant_id` is the original's merchant when it could be decoded far enough, else
`unknown` (envelope.UNKNOWN_MERCHANT).
The original bytes may hold personal data: never log them.
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field

from relais_contracts.envelope import Contract, Event
from relais_contracts.privacy import PERSONAL
from relais_contracts.registry import Service, Topic


class DeadLetterReason(Contract):
    kind: Literal[
        "undecodable",
        "invalid",
        "unknown_event_type",
        "handler_failed",
        "dependency_missing",
        "retries_exhausted",
    ] = Field(
        description="The message's own fault. `retries_exhausted` is only in letters written "
        "before outages paused consumers instead; an outage never dead-letters a message."
    )
    message: str = Field(max_length=4000, description="Why; never contains personal data.")
    attempts: int = Field(default=1, ge=1)


class MessageDeadLettered(Event):
    """A message set aside, with where it came from and why. `occurred_at` is when the
    consumer gave up on it."""

    event_type: Literal["MessageDeadLettered"] = "MessageDeadLettered"
    schema_version: Literal[1] = 1
    consumer_group: str
    source_topic: str
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)
    source_key_b64: str | None = Field(default=None, description="The original key, base64.")
    source_headers: dict[str, str] = Field(default_factory=dict)
    original_value_b64: str = Field(
        description="The original message bytes, base64.", json_schema_extra=PERSONAL
    )
    reason: DeadLetterReason

    partition_key_field = "source_topic"

    @staticmethod
    def encode_bytes(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    def original_value(self) -> bytes:
        return base64.b64decode(self.original_value_b64)

    def source_key(self) -> bytes | None:
        return None if self.source_key_b64 is None else base64.b64decode(self.source_key_b64)

    def partition_key(self) -> bytes:
        return self.source_key() or self.source_topic.encode()


TOPIC = Topic(
    name="relais.dead-letters.v1",
    description=__doc__ or "",
    key="the original message's key (or its topic when it had none)",
    message_types=(MessageDeadLettered,),
    producers=(Service.ANY,),
    consumers=(),
    partitions=3,
    retention_ms=30 * 24 * 3600 * 1000,
)
