"""A shipment's recorded carrier events and the progress they fold to.

Rules:
- an event is recorded once per shipment (merchant, shipment, event id): a re-send
  is dropped and counted as a duplicate;
- a shipment's progress is advanced in place when its new events are newer than its
  latest one; otherwise (or when no stored progress is still valid) it is folded
  again from its whole recorded history.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.db import DbConnection
from relais_runtime.kafka import encode_event
from relais_runtime.metrics import TRACKING_EVENTS
from relais_tracker import repository
from relais_tracker.domain.shipments import (
    NO_PROGRESS,
    CarrierEvent,
    Progress,
    advance,
    carrier_event_of_record,
    progress_of,
)
from relais_tracker.repository import ShipmentKey, TrackingKey

Encoded = tuple[TrackingEventRecorded, bytes]
"""A tracking event and its JSON, encoded once for its table row and its outbox row."""


class Tracked(Protocol):
    """What says which carrier events a shipment follows (ShipmentBase, BaseFacts)."""

    @property
    def tracking(self) -> TrackingKey | None: ...


ProgressTarget = tuple[ShipmentKey, Tracked, Progress | None]
"""A shipment, its facts and its stored progress (None: not valid any more, fold again)."""


class EventOutcome(StrEnum):
    """The `outcome` label of relais_tracking_events_total."""

    RECORDED = "recorded"
    RECONCILED = "reconciled"
    HELD = "held"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"
    """Held too long without an order: deleted (service.held_events)."""


async def record_once(
    connection: DbConnection,
    candidates: Sequence[TrackingEventRecorded],
    *,
    outcome: EventOutcome,
) -> list[Encoded]:
    """The candidates not recorded before, now recorded, with their JSON."""
    distinct = list({(c.merchant_id, c.shipment_id, c.event_id): c for c in candidates}.values())
    values = [encode_event(record) for record in distinct]
    inserted = await repository.create_tracking_events(connection, records=distinct, values=values)
    new = [
        (record, value)
        for record, value in zip(distinct, values, strict=True)
        if (record.merchant_id, record.shipment_id, record.event_id) in inserted
    ]
    TRACKING_EVENTS.labels(outcome=outcome).inc(len(new))
    TRACKING_EVENTS.labels(outcome=EventOutcome.DUPLICATE).inc(len(distinct) - len(new))
    return new


async def progress_after(
    connection: DbConnection,
    *,
    targets: Sequence[ProgressTarget],
    records: Sequence[Encoded],
) -> dict[ShipmentKey, Progress]:
    """Each target's progress once its new `records` are counted."""
    new_events: dict[ShipmentKey, list[CarrierEvent]] = {}
    for record, _value in records:
        new_events.setdefault((record.merchant_id, record.shipment_id), []).append(
            carrier_event_of_record(record)
        )
    result: dict[ShipmentKey, Progress] = {}
    refold: list[tuple[ShipmentKey, TrackingKey]] = []
    for key, base, previous in targets:
        advanced = advance(previous, new_events.get(key, ())) if previous is not None else None
        if advanced is not None:
            result[key] = advanced
        elif base.tracking is not None:
            refold.append((key, base.tracking))
        else:
            result[key] = NO_PROGRESS
    histories = await repository.list_tracking_events(connection, shipments=refold)
    for key, _tracking in refold:
        result[key] = progress_of(histories.get(key, []))
    return result
