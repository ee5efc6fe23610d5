"""The tracker's consumers: decode each message, hand it to its application step.

- merchant orders (batches): service.orders.OrderIntake.receive_all, set-based for the
  batch, one event at a time for an order with several events in it;
- carrier updates (batches): each payload is normalized by its carrier's adapter
  (an aggregator's or the generic format's events carry the real carrier they name)
  while the batch is prepared, then service.carrier_events.CarrierEventRecorder
  matches, holds, records and publishes them in the batch's transaction, and counts
  the codes no table knows (by the adapter that read them: `relais carriers
  unknown-codes`);
- a message of a type the topic should not carry is dead-lettered
  (failures.unexpected_event); a payload no adapter can read too (PermanentError).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relais_contracts.envelope import Event
from relais_contracts.topics import carrier_updates, orders
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived
from relais_runtime.consumer import PermanentError, Prepared
from relais_runtime.db import DbConnection
from relais_runtime.failures import unexpected_event
from relais_tracker.adapters import carriers
from relais_tracker.adapters.carriers.base import PayloadError
from relais_tracker.domain import OrderEvent
from relais_tracker.domain.payloads import payload_bytes
from relais_tracker.domain.shipments import CarrierEvent, carrier_event_from
from relais_tracker.repository import UnknownCode
from relais_tracker.service.carrier_events import CarrierEventRecorder, Received
from relais_tracker.service.orders import OrderIntake


def normalize(update: CarrierUpdateReceived) -> list[CarrierEvent]:
    """The update's events; PermanentError (dead-letter) when its payload cannot be read."""
    adapter = carriers.adapter_for(update.carrier)
    if adapter is None:
        raise PermanentError(f"no adapter for carrier {update.carrier!r}")
    try:
        normalized = adapter.parse(payload_bytes(update))
    except PayloadError as error:
        raise PermanentError(f"{update.carrier} payload: {error}") from None
    carriers.record_unknown_codes(normalized, carrier=adapter.carrier)
    return [
        carrier_event_from(
            event,
            carrier=event.carrier or adapter.carrier,
            source=update.source,
            carrier_update_id=update.event_id,
        )
        for event in normalized
    ]


def prepare_carrier_update(event: Event) -> list[Received]:
    """Pure: the update's normalized events with the merchant the receiver knew."""
    match event:
        case CarrierUpdateReceived():
            return [(event.merchant_id, carrier_event) for carrier_event in normalize(event)]
        case _:
            unexpected_event(event, where=carrier_updates.TOPIC.name)


@dataclass(frozen=True)
class CarrierUpdateConsumer:
    recorder: CarrierEventRecorder

    async def handle(self, batch: Sequence[Prepared], connection: DbConnection) -> None:
        await self.recorder.record(
            connection,
            [pair for item in batch for pair in item.value],
            unknown=unknown_codes(batch),
        )


def unknown_codes(batch: Sequence[Prepared]) -> list[UnknownCode]:
    """The batch's events whose code no table knows, each with the adapter that read it
    (the table to extend: AfterShip's for an AfterShip subtag, whatever the real carrier)."""
    found = []
    for item in batch:
        if not isinstance(item.event, CarrierUpdateReceived):
            continue
        adapter = carriers.adapter_for(item.event.carrier)
        reader = adapter.carrier if adapter is not None else item.event.carrier
        found += [
            UnknownCode(reader, event.carrier_code, event.description)
            for _, event in item.value
            if not event.code_recognized
        ]
    return found


def prepare_order(event: Event) -> OrderEvent:
    """Pure: the order event itself; any other type is dead-lettered."""
    match event:
        case orders.OrderPlaced() | orders.OrderUpdated() | orders.OrderCancelled():
            return event
        case _:
            unexpected_event(event, where=orders.TOPIC.name)


@dataclass(frozen=True)
class OrderConsumer:
    intake: OrderIntake

    async def handle(self, batch: Sequence[Prepared], connection: DbConnection) -> None:
        await self.intake.receive_all(connection, [item.value for item in batch])
