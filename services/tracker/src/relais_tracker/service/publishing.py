"""Storing and publishing a shipment's change.

Rules:
- a shipment whose facts (base and progress) did not change is neither stored nor
  published; each one that did is stored with its version + 1 and published once as
  a ShipmentStateChanged of that version;
- the new tracking events and the states go through the outbox, in the caller's
  transaction: they are published if and only if the change commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from relais_contracts.registry import Topic
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.kafka import encode_event
from relais_tracker import repository
from relais_tracker.domain.shipments import Cause, Progress, ShipmentBase, shipment_state
from relais_tracker.repository import ShipmentKey, ShipmentRow, ShipmentWrite
from relais_tracker.service.history import Encoded


@dataclass(frozen=True)
class Change:
    """A shipment's new facts; `previous` is its stored row (None: a new shipment)."""

    key: ShipmentKey
    base: ShipmentBase
    progress: Progress
    previous: ShipmentRow | None
    cause: Cause

    def changes_nothing(self) -> bool:
        previous = self.previous
        return (
            previous is not None
            and _same(previous.base, self.base)
            and _same(previous.progress, self.progress)
        )


def _same(stored: object, new: object) -> bool:
    """Equal facts; the identity test first spares comparing every field of a carrier
    batch's bases, which are the very objects read from their rows."""
    return stored is new or stored == new


@dataclass(frozen=True)
class ShipmentPublisher:
    tracking_events: Topic
    shipment_state: Topic
    clock: Clock

    async def publish(
        self,
        connection: DbConnection,
        *,
        changes: Sequence[Change],
        records: Sequence[Encoded],
        whole_rows: bool,
    ) -> None:
        """Store each changed shipment (`whole_rows`: its base too, else only its
        progress) and put its state and the new tracking events in the outbox."""
        now = self.clock.now()
        published = [_published(change, now) for change in changes if not change.changes_nothing()]
        writes = [write for _state, write in published]
        states = [state for state, _write in published]
        if whole_rows:
            await repository.update_shipments(connection, writes=writes)
        else:
            await repository.update_progress(connection, writes=writes)
        await repository.create_outbox_rows(
            connection,
            topic=self.tracking_events,
            events=[record for record, _ in records],
            values=[value for _, value in records],
        )
        await repository.create_outbox_rows(
            connection,
            topic=self.shipment_state,
            events=states,
            values=[encode_event(state) for state in states],
        )


def _published(change: Change, now: datetime) -> tuple[ShipmentStateChanged, ShipmentWrite]:
    """The state a change publishes (its version: the stored one + 1) and its row."""
    version = (change.previous.version if change.previous else 0) + 1
    merchant_id, shipment_id = change.key
    state = shipment_state(
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        base=change.base,
        progress=change.progress,
        version=version,
        cause=change.cause,
        produced_at=now,
    )
    write = ShipmentWrite(
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        version=version,
        base=change.base,
        progress=change.progress,
        status=state.status,
        substatus=state.substatus,
        final=state.final,
    )
    return state, write
