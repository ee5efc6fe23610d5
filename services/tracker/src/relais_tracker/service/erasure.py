"""Erasing one customer of one merchant from the tracker, and telling every service.

Rules (relais_tracker.domain.erasure says what is kept and what goes):
- the customer's orders are those of the merchant whose snapshot names their email
  (normalised), and the orders of the shipments that name it; their shipments are every
  shipment of those orders and every shipment naming the email;
- in one transaction: the orders lose their snapshot and are marked erased (a later
  event about them is ignored: relais_tracker.service.orders), the shipments, their
  carrier history, the carrier events held for their tracking numbers and every outbox
  row keyed by them (tracking events and states: the tracker's outbox holds no other
  kind) go, a tombstone per shipment (relais.shipment-state.v1) and per
  order (relais.orders.v1) is written to the outbox, and the audit record is created.
  The relay publishes the tombstones after commit; each consumer then erases its copy;
- idempotent: a second erasure of the same customer finds nothing left (the addresses
  are gone) and records an erasure with zero counts; replaying one erasure's tombstones
  writes no second row (event ids derived from the erasure and the key);
- after commit: relais_erasures_total and one log line with the erasure id and the
  counts only (no merchant-supplied text, no address, no order id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_contracts.registry import Topic
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger
from relais_runtime.metrics import ERASURES
from relais_tracker import repository
from relais_tracker.domain.erasure import (
    ErasureCounts,
    email_digest,
    merchant_key,
    new_salt,
    normalized_email,
    tombstone_event_id,
)
from relais_tracker.repository import CustomerShipment, ErasureRecord, Tombstone

log = get_logger(__name__)


class ErasureSource(StrEnum):
    """Who asked: the merchant API or an operator's `relais erase` (the `source` column)."""

    API = "api"
    CLI = "cli"


@dataclass(frozen=True)
class ErasureOutcome:
    erasure_id: UUID
    counts: ErasureCounts
    requested_at: datetime
    completed_at: datetime


@dataclass(frozen=True)
class CustomerErasure:
    """Erases customers on the tracker's schema and publishes the tombstones (outbox)."""

    shipment_state: Topic
    orders: Topic
    now: Callable[[], datetime]

    async def erase(
        self,
        connection: DbConnection,
        *,
        merchant_id: str,
        email: str,
        source: ErasureSource,
    ) -> ErasureOutcome:
        """Erase in a transaction of its own on `connection`; InvalidEmail (nothing done)
        when `email` is not an address."""
        normalized = normalized_email(email)
        requested_at = self.now()
        salt = new_salt()
        digest = await asyncio.to_thread(email_digest, normalized, salt=salt)
        erasure_id = uuid4()
        async with connection.transaction():
            counts = await self._erase_rows(
                connection, erasure_id=erasure_id, merchant_id=merchant_id, email=normalized
            )
            completed_at = self.now()
            await repository.create_erasure(
                connection,
                record=ErasureRecord(
                    erasure_id=erasure_id,
                    merchant_id=merchant_id,
                    email_salt=salt,
                    email_digest=digest,
                    source=source.value,
                    orders=counts.orders,
                    shipments=counts.shipments,
                    tracking_events=counts.tracking_events,
                    held_events=counts.held_events,
                    outbox_rows=counts.outbox_rows,
                    requested_at=requested_at,
                    completed_at=completed_at,
                ),
            )
        ERASURES.labels(
            source=source.value, outcome="erased" if counts.found else "not_found"
        ).inc()
        log.info(
            "customer erased",
            erasure_id=str(erasure_id),
            source=source.value,
            orders=counts.orders,
            shipments=counts.shipments,
            tracking_events=counts.tracking_events,
            held_events=counts.held_events,
            outbox_rows=counts.outbox_rows,
        )
        return ErasureOutcome(erasure_id, counts, requested_at, completed_at)

    async def _erase_rows(
        self, connection: DbConnection, *, erasure_id: UUID, merchant_id: str, email: str
    ) -> ErasureCounts:
        order_ids = await repository.list_customer_orders(
            connection, merchant_id=merchant_id, email=email
        )
        shipments = await repository.list_customer_shipments(
            connection, merchant_id=merchant_id, email=email, order_ids=order_ids
        )
        all_orders = sorted({*order_ids, *(shipment.order_id for shipment in shipments)})
        await repository.update_orders_erased(
            connection, merchant_id=merchant_id, order_ids=all_orders, erased_at=self.now()
        )
        deleted, events = await repository.delete_customer_shipments(
            connection,
            merchant_id=merchant_id,
            shipment_ids=[shipment.shipment_id for shipment in shipments],
        )
        held = await repository.delete_held_events(
            connection,
            tracking_keys=sorted({s.tracking_key for s in shipments if s.tracking_key}),
            merchant_ids=[merchant_id, UNKNOWN_MERCHANT],
        )
        tombstones = self._tombstones(erasure_id, merchant_id, all_orders, shipments)
        outbox_rows = await repository.delete_outbox_rows(
            connection,
            keys=[t.key for t in tombstones if t.topic == self.shipment_state.name],
        )
        await repository.create_tombstones(connection, tombstones=tombstones)
        return ErasureCounts(
            orders=len(all_orders),
            shipments=deleted,
            tracking_events=events,
            held_events=held,
            outbox_rows=outbox_rows,
        )

    def _tombstones(
        self,
        erasure_id: UUID,
        merchant_id: str,
        order_ids: Sequence[str],
        shipments: Sequence[CustomerShipment],
    ) -> list[Tombstone]:
        """Shipments first, then orders: a consumer of both sees the shipment go first."""
        keyed = [
            *(
                (self.shipment_state.name, merchant_key(merchant_id, s.shipment_id))
                for s in shipments
            ),
            *((self.orders.name, merchant_key(merchant_id, order_id)) for order_id in order_ids),
        ]
        return [
            Tombstone(
                event_id=tombstone_event_id(erasure_id, topic=topic, key=key),
                topic=topic,
                key=key,
                merchant_id=merchant_id,
            )
            for topic, key in keyed
        ]
