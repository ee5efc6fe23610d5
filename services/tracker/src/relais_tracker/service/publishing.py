"""Storing and publishing a shipment's change.

Rules:
- a shipment whose facts (base and progress) did not change is neither stored nor
  published; each one that did is stored with its version + 1 and published once as
  a ShipmentStateChanged of that version;
- the new tracking events and the states go through the outbox, in the caller's
  transaction: they are published if and only if the change commits;
- on the carrier path (publish_progress) a state is spliced: the fields it copies
  from its base are the base's stored JSON, never parsed; the same state, once read,
  as the one built from the parsed base (domain.shipments.shipment_state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.kafka import encode_event
from relais_tracker import repository
from relais_tracker.domain.shipments import (
    Cause,
    Progress,
    ShipmentBase,
    head_status,
    shipment_state,
    spliced_state_json,
    state_head,
)
from relais_tracker.repository import (
    ProgressWrite,
    ShipmentKey,
    ShipmentRow,
    ShipmentWrite,
    TrackedShipment,
)
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

    def __post_init__(self) -> None:
        """The spliced states of publish_progress are written without a type check per
        row: their topic is checked here, once."""
        if ShipmentStateChanged not in self.shipment_state.message_types:
            raise TypeError(f"topic {self.shipment_state.name} does not carry shipment states")

    async def publish(
        self,
        connection: DbConnection,
        *,
        changes: Sequence[Change],
        records: Sequence[Encoded],
    ) -> None:
        """Store each changed shipment whole (its base and its progress) and put its
        state and the new tracking events in the outbox (carrier progress alone goes
        through publish_progress)."""
        now = self.clock.now()
        published = [_published(change, now) for change in changes if not change.changes_nothing()]
        writes = [write for _state, write in published]
        states = [state for state, _write in published]
        await repository.update_shipments(connection, writes=writes)
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

    async def publish_progress(
        self,
        connection: DbConnection,
        *,
        changes: Sequence[ProgressChange],
        records: Sequence[Encoded],
    ) -> None:
        """Store each tracked shipment's new progress and put its state and the new
        tracking events in the outbox; the states are spliced (their bases never
        parsed: domain.shipments.spliced_state_json)."""
        now = self.clock.now()
        heads, values, writes = [], [], []
        for change in changes:
            if change.changes_nothing():
                continue
            head, write = _progressed(change, now)
            heads.append(head)
            values.append(spliced_state_json(head, change.shipment.copied_json))
            writes.append(write)
        await repository.update_progress(connection, writes=writes)
        await repository.create_outbox_rows(
            connection,
            topic=self.tracking_events,
            events=[record for record, _ in records],
            values=[value for _, value in records],
        )
        await repository.copy_outbox_rows(
            connection, topic_name=self.shipment_state.name, events=heads, values=values
        )


@dataclass(frozen=True)
class ProgressChange:
    """A tracked shipment's new carrier progress (its base is unchanged)."""

    shipment: TrackedShipment
    progress: Progress
    cause: Cause

    def changes_nothing(self) -> bool:
        return self.progress == self.shipment.progress


def _progressed(change: ProgressChange, now: datetime) -> tuple[Event, ProgressWrite]:
    """The head of the state a progress change publishes (its version: the stored one
    + 1) and its row's write."""
    shipment = change.shipment
    version = shipment.version + 1
    head = state_head(
        merchant_id=shipment.merchant_id,
        shipment_id=shipment.shipment_id,
        facts=shipment.facts,
        progress=change.progress,
        version=version,
        cause=change.cause,
        produced_at=now,
    )
    status, substatus, final = head_status(head)
    write = ProgressWrite(
        merchant_id=shipment.merchant_id,
        shipment_id=shipment.shipment_id,
        version=version,
        progress=change.progress,
        status=status,
        substatus=substatus,
        final=final,
    )
    return head, write


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
