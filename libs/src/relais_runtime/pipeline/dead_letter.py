"""Publishing a dead letter: waits out a Kafka outage, and never loses the letter itself."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord

from relais_contracts.envelope import Event
from relais_runtime.dead_letters import send_dead_letter
from relais_runtime.pipeline.outage import Outage, Stopping
from relais_runtime.pipeline.outcomes import Record


class DeadLetterer:
    def __init__(self, *, producer: AIOKafkaProducer, group: str) -> None:
        self._producer = producer
        self._group = group

    async def publish(
        self,
        outage: Outage,
        record: Record,
        *,
        kind: str,
        message: str,
        attempts: int = 1,
        event: Event | None = None,
    ) -> None:
        """A letter Kafka refuses for itself (too large) is sent again without the
        original value, with a note saying so."""

        async def send(note: str = "") -> None:
            await send_dead_letter(
                self._producer,
                record if not note else without_value(record),
                group=self._group,
                kind=kind,
                message=message + note,
                attempts=attempts,
                event=event,
            )

        try:
            await outage.until_done(send)
        except Stopping:
            raise
        except Exception as error:
            note = f" (original value not kept: {type(error).__name__})"
            await outage.until_done(lambda: send(note))


def without_value(record: Record) -> Any:
    return ConsumerRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=record.timestamp,
        timestamp_type=record.timestamp_type,
        key=record.key,
        value=b"",
        checksum=None,
        serialized_key_size=record.serialized_key_size,
        serialized_value_size=0,
        headers=record.headers,
    )
