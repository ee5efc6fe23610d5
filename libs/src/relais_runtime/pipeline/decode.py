"""Step 2: decode each message against its topic's contract, and prepare it.

A message that is not JSON, does not validate, has an unknown event type, or whose
preparation raises is dead-lettered with the reason; the others go on. A replayed
message addressed to another consumer group (header `relais-replay-for`) is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from relais_contracts.envelope import Event
from relais_runtime.consumer import AnySubscription, BatchSubscription, Prepared
from relais_runtime.dead_letters import (
    DeadLetterKind,
    decode_error_kind,
    describe,
    replay_target,
    short_reason,
)
from relais_runtime.pipeline.dead_letter import DeadLetterer
from relais_runtime.pipeline.outage import Outage
from relais_runtime.pipeline.outcomes import Outcomes, Record, add

PREPARE_SLICE = 50
"""Messages decoded between two yields to the event loop (lets the running transaction
send its next statement)."""


class Decoding:
    def __init__(
        self, *, subscription: AnySubscription, group: str, dead_letters: DeadLetterer
    ) -> None:
        self._topic = subscription.topic
        self._group = group
        self._dead_letters = dead_letters
        self._prepare: Callable[[Event], Any] | None = (
            subscription.prepare if isinstance(subscription, BatchSubscription) else None
        )

    async def decode(
        self, records: Sequence[Record], outage: Outage
    ) -> tuple[list[Prepared], Outcomes]:
        ready: list[Prepared] = []
        outcomes: Outcomes = {}
        for index, record in enumerate(records):
            if index and index % PREPARE_SLICE == 0:
                await asyncio.sleep(0)
            target = replay_target(record)
            if target is not None and target != self._group:
                add(outcomes, "replay_skipped")
            elif record.value is None:
                ready.append(Prepared(record, None))
            elif prepared := await self._decode_one(record, outage):
                ready.append(prepared)
            else:
                add(outcomes, "dead_lettered")
        return ready, outcomes

    async def _decode_one(self, record: Record, outage: Outage) -> Prepared | None:
        """The prepared message, or None once it is dead-lettered."""
        try:
            event = self._topic.decode(record.value or b"")
        except ValidationError as error:
            await self._dead_letters.publish(
                outage, record, kind=decode_error_kind(error), message=short_reason(error)
            )
            return None
        try:
            value = self._prepare(event) if self._prepare is not None else None
        except Exception as error:
            await self._dead_letters.publish(
                outage,
                record,
                kind=DeadLetterKind.HANDLER_FAILED.value,
                message=describe(error),
                event=event,
            )
            return None
        return Prepared(record, event, value)
