"""Applying normalized carrier events to the shipments that follow their tracking number.

Rules:
- an event matches a shipment with its tracking number (case-insensitive) and a
  compatible carrier (domain.shipments.compatible_carriers), of the merchant the
  receiver knew or of any merchant when it did not know; an event of no named carrier
  that fits parcels of several carriers goes to those its number's format points to
  (domain.shipments.narrowed_by_number);
- an event matching no shipment is held until its order arrives (service.orders);
- the codes no adapter table knows are counted in the same transaction (table
  `unknown_carrier_codes`, by the adapter that read them, with an example description);
- each matched event is recorded once per shipment (a re-send is dropped), and each
  changed shipment's state is published once per batch, caused by its latest event;
- the tracking numbers of the batch are locked first (advisory locks), so holding an
  event and creating its shipment never run at the same time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_contracts.topics.shipment_state import StateChangeCause
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.metrics import TRACKING_EVENTS
from relais_tracker import repository
from relais_tracker.domain.shipments import (
    CarrierEvent,
    Cause,
    narrowed_by_number,
    tracking_event_recorded,
)
from relais_tracker.repository import ShipmentKey, TrackedShipment, UnknownCode
from relais_tracker.service.history import Encoded, EventOutcome, progress_after, record_once
from relais_tracker.service.publishing import ProgressChange, ShipmentPublisher

Received = tuple[str, CarrierEvent]
"""A carrier event and the merchant its receiver knew (UNKNOWN_MERCHANT if none)."""

Following = Mapping[str, Sequence[tuple[str, TrackedShipment]]]
"""By tracking key: the shipments following it, each with its carrier."""


@dataclass
class Matching:
    candidates: list[TrackingEventRecorded] = field(default_factory=list)
    """Each matched event as recorded for each shipment it matched."""
    unmatched: list[Received] = field(default_factory=list)
    rows: dict[ShipmentKey, TrackedShipment] = field(default_factory=dict)
    """The matched shipments' stored rows."""


@dataclass(frozen=True)
class CarrierEventRecorder:
    publisher: ShipmentPublisher
    clock: Clock

    async def record(
        self,
        connection: DbConnection,
        received: Sequence[Received],
        *,
        unknown: Sequence[UnknownCode] = (),
    ) -> None:
        """`unknown`: the batch's codes no adapter table knows, counted durably."""
        await repository.update_unknown_codes(connection, codes=unknown, seen_at=self.clock.now())
        received = list(
            {(hint, event.event_id): (hint, event) for hint, event in received}.values()
        )
        keys = sorted({event.tracking_key for _, event in received})
        await repository.lock_tracking_keys(connection, keys=keys)
        following = await _following(connection, keys)
        now = self.clock.now()
        matching = match_shipments(received, following, now=now)
        await repository.create_pending_events(
            connection, events=matching.unmatched, received_at=now
        )
        TRACKING_EVENTS.labels(outcome=EventOutcome.HELD).inc(len(matching.unmatched))
        records = await record_once(connection, matching.candidates, outcome=EventOutcome.RECORDED)
        rows = matching.rows
        touched = {(record.merchant_id, record.shipment_id) for record, _ in records}
        progress = await progress_after(
            connection,
            targets=[(key, rows[key].facts, rows[key].progress) for key in touched],
            records=records,
        )
        latest = _latest_record_by_shipment(records)
        changes = [
            ProgressChange(
                rows[key],
                progress[key],
                Cause(
                    StateChangeCause.TRACKING_EVENT, latest[key].event_id, latest[key].occurred_at
                ),
            )
            for key in sorted(touched)
        ]
        await self.publisher.publish_progress(connection, changes=changes, records=records)


async def _following(connection: DbConnection, keys: Sequence[str]) -> Following:
    following: dict[str, list[tuple[str, TrackedShipment]]] = {}
    for row in await repository.list_tracked_shipments(connection, keys=keys):
        if row.facts.tracking is not None:
            carrier, key = row.facts.tracking
            following.setdefault(key, []).append((carrier, row))
    return following


def match_shipments(
    received: Sequence[Received], following: Following, *, now: datetime
) -> Matching:
    matching = Matching()
    for hint, event in received:
        merchants = [
            (carrier, row)
            for carrier, row in following.get(event.tracking_key, ())
            if hint in (UNKNOWN_MERCHANT, row.merchant_id)
        ]
        allowed = narrowed_by_number(
            event.carrier, event.tracking_number, {carrier for carrier, _ in merchants}
        )
        matches = [row for carrier, row in merchants if carrier in allowed]
        if not matches:
            matching.unmatched.append((hint, event))
        for row in matches:
            matching.rows[row.key] = row
            matching.candidates.append(
                tracking_event_recorded(
                    event,
                    merchant_id=row.merchant_id,
                    shipment_id=row.shipment_id,
                    order_id=row.order_id,
                    produced_at=now,
                )
            )
    return matching


def _latest_record_by_shipment(
    records: Sequence[Encoded],
) -> dict[ShipmentKey, TrackingEventRecorded]:
    latest: dict[ShipmentKey, TrackingEventRecorded] = {}
    for record, _value in records:
        key = (record.merchant_id, record.shipment_id)
        if key not in latest or record.occurred_at >= latest[key].occurred_at:
            latest[key] = record
    return latest
