"""The tracker's SQL, on its own schema.

Verbs: get, get_or_create, create, update, delete, list; keyword arguments only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_runtime.db import DbConnection
from relais_runtime.tracing import trace_headers
from relais_tracker.adapters.carriers.aliases import GENERIC
from relais_tracker.domain import OrderRecord, OrderState
from relais_tracker.domain.polling import PollPlan
from relais_tracker.domain.shipments import (
    BASE_ONLY_FIELDS,
    CARRIER_EVENT_JSON,
    BaseFacts,
    CarrierEvent,
    Progress,
    ShipmentBase,
    carrier_event_of_record,
)

TrackingKey = tuple[str, str]
"""(carrier, tracking key): how carrier events find their shipment."""
ShipmentKey = tuple[str, str]
"""(merchant_id, shipment_id)."""


async def get_order_as_of(
    connection: DbConnection, *, merchant_id: str, order_id: str
) -> datetime | None:
    as_of: datetime | None = await connection.fetchval(
        "SELECT as_of FROM orders WHERE merchant_id = $1 AND order_id = $2 FOR UPDATE",
        merchant_id,
        order_id,
    )
    return as_of


async def update_order(connection: DbConnection, *, record: OrderRecord) -> None:
    """Create or replace the order; a cancellation keeps the last snapshot."""
    await update_orders(connection, records=[record])


async def get_order_state(
    connection: DbConnection, *, merchant_id: str, order_id: str
) -> OrderState | None:
    state: str | None = await connection.fetchval(
        "SELECT state FROM orders WHERE merchant_id = $1 AND order_id = $2",
        merchant_id,
        order_id,
    )
    return None if state is None else OrderState(state)


async def get_order(connection: DbConnection, *, merchant_id: str, order_id: str) -> Any:
    """The order's row (state, as_of, snapshot as JSON text), or None."""
    return await connection.fetchrow(
        "SELECT order_id, state, as_of, order_number, snapshot::text AS snapshot"
        " FROM orders WHERE merchant_id = $1 AND order_id = $2",
        merchant_id,
        order_id,
    )


OrderKey = tuple[str, str]
"""(merchant_id, order_id)."""


@dataclass(frozen=True)
class StoredOrder:
    as_of: datetime
    erased: bool


async def list_stored_orders(
    connection: DbConnection, *, keys: Sequence[OrderKey]
) -> dict[OrderKey, StoredOrder]:
    """The stored orders among `keys` (what get_order_as_of and get_order_erased read),
    locked for update, taken in key order."""
    if not keys:
        return {}
    rows = await connection.fetch(
        "SELECT o.merchant_id, o.order_id, o.as_of, o.erased_at IS NOT NULL AS erased"
        " FROM orders o JOIN unnest($1::text[], $2::text[]) AS k(m, i)"
        " ON o.merchant_id = k.m AND o.order_id = k.i"
        " ORDER BY o.merchant_id, o.order_id FOR UPDATE OF o",
        [merchant for merchant, _ in keys],
        [order for _, order in keys],
    )
    return {
        (row["merchant_id"], row["order_id"]): StoredOrder(row["as_of"], row["erased"])
        for row in rows
    }


async def update_orders(connection: DbConnection, *, records: Sequence[OrderRecord]) -> None:
    """Create or replace each order (each at most once) in one statement; a cancellation
    keeps the last snapshot."""
    if not records:
        return
    await connection.execute(
        """
        INSERT INTO orders (merchant_id, order_id, state, as_of, order_number, parcel_count,
                            snapshot)
        SELECT m, i, s, a, n, c, j::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                    $6::int[], $7::text[]) AS t(m, i, s, a, n, c, j)
        ON CONFLICT (merchant_id, order_id) DO UPDATE SET
            state = EXCLUDED.state,
            as_of = EXCLUDED.as_of,
            order_number = COALESCE(EXCLUDED.order_number, orders.order_number),
            parcel_count = COALESCE(EXCLUDED.parcel_count, orders.parcel_count),
            snapshot = COALESCE(EXCLUDED.snapshot, orders.snapshot),
            updated_at = now()
        """,
        [record.merchant_id for record in records],
        [record.order_id for record in records],
        [record.state.value for record in records],
        [record.as_of for record in records],
        [record.order_number for record in records],
        [record.parcel_count for record in records],
        [record.snapshot_json for record in records],
    )


async def list_orders_shipments(
    connection: DbConnection, *, orders: Sequence[OrderKey], shipments: Sequence[ShipmentKey]
) -> list[ShipmentRow]:
    """list_shipments for several orders in one statement: the orders' shipments and
    those named, locked for update, in key order (a union of two index lookups: an OR of
    the two conditions would scan the whole table)."""
    rows = await connection.fetch(
        "SELECT merchant_id, shipment_id, order_id, version, base::text AS base,"
        " progress::text AS progress FROM shipments"
        " WHERE (merchant_id, shipment_id) IN ("
        "   SELECT s.merchant_id, s.shipment_id FROM shipments s"
        "   JOIN unnest($1::text[], $2::text[]) AS k(m, o)"
        "     ON s.merchant_id = k.m AND s.order_id = k.o"
        "   UNION SELECT * FROM unnest($3::text[], $4::text[]))"
        " ORDER BY merchant_id, shipment_id FOR UPDATE",
        [merchant for merchant, _ in orders],
        [order for _, order in orders],
        [merchant for merchant, _ in shipments],
        [shipment for _, shipment in shipments],
    )
    return [_shipment(row) for row in rows]


@dataclass(frozen=True)
class ShipmentRow:
    merchant_id: str
    shipment_id: str
    order_id: str
    version: int
    base: ShipmentBase
    progress: Progress

    @property
    def key(self) -> ShipmentKey:
        return self.merchant_id, self.shipment_id


@lru_cache(maxsize=256)
def _base(text: str) -> ShipmentBase:
    """Bases change only with their order: a row read again soon (an order's update, a
    carrier's burst of events for one parcel) parses the same text. Kept small: a
    shipment's events are hours apart, so a large cache would mostly hold bases that
    will not be read again before they fall out (each costs about 9 kB)."""
    return ShipmentBase.model_validate_json(text)


def _shipment(row: Any) -> ShipmentRow:
    return ShipmentRow(
        merchant_id=row["merchant_id"],
        shipment_id=row["shipment_id"],
        order_id=row["order_id"],
        version=row["version"],
        base=_base(row["base"]),
        progress=Progress.model_validate_json(row["progress"]),
    )


async def list_shipments(
    connection: DbConnection, *, merchant_id: str, order_id: str, shipment_ids: Sequence[str] = ()
) -> list[ShipmentRow]:
    """The order's shipments and those named, locked for update, in key order."""
    rows = await connection.fetch(
        "SELECT merchant_id, shipment_id, order_id, version, base::text AS base,"
        " progress::text AS progress FROM shipments"
        " WHERE merchant_id = $1 AND (order_id = $2 OR shipment_id = ANY($3::text[]))"
        " ORDER BY shipment_id FOR UPDATE",
        merchant_id,
        order_id,
        list(shipment_ids),
    )
    return [_shipment(row) for row in rows]


@dataclass(frozen=True)
class TrackedShipment:
    """A shipment as the carrier path reads it: its progress, and of its base only the
    facts its state derives fields from and the JSON of the fields its state copies
    (never parsed: domain.shipments.spliced_state_json)."""

    merchant_id: str
    shipment_id: str
    order_id: str
    version: int
    facts: BaseFacts
    copied_json: str
    progress: Progress

    @property
    def key(self) -> ShipmentKey:
        return self.merchant_id, self.shipment_id


async def list_tracked_shipments(
    connection: DbConnection, *, keys: Sequence[str]
) -> list[TrackedShipment]:
    """Shipments following these tracking keys (any carrier: the caller checks that the
    carriers are compatible), locked for update, in key order."""
    rows = await connection.fetch(
        """
        SELECT merchant_id, shipment_id, order_id, version, carrier, tracking_key,
               (base - $2::text[])::text AS copied,
               base->>'placed_at' AS placed_at,
               base->>'merchant_shipped_at' AS merchant_shipped_at,
               coalesce((base->>'cancelled')::boolean, false) AS cancelled,
               CASE WHEN base->'delivery'->>'mode' = 'pickup_point'
                    THEN (base->'delivery'->'pickup_point'->>'hold_days')::int END AS hold_days,
               progress::text AS progress
        FROM shipments WHERE tracking_key = ANY($1::text[])
        ORDER BY merchant_id, shipment_id FOR UPDATE
        """,
        list(keys),
        sorted(BASE_ONLY_FIELDS),
    )
    return [_tracked(row) for row in rows]


def _tracked(row: Any) -> TrackedShipment:
    shipped_at = row["merchant_shipped_at"]
    tracking_key = row["tracking_key"]
    return TrackedShipment(
        merchant_id=row["merchant_id"],
        shipment_id=row["shipment_id"],
        order_id=row["order_id"],
        version=row["version"],
        facts=BaseFacts(
            placed_at=datetime.fromisoformat(row["placed_at"]),
            merchant_shipped_at=None if shipped_at is None else datetime.fromisoformat(shipped_at),
            cancelled=row["cancelled"],
            tracking=None if tracking_key is None else (row["carrier"], tracking_key),
            pickup_hold_days=row["hold_days"],
        ),
        copied_json=row["copied"],
        progress=Progress.model_validate_json(row["progress"]),
    )


async def lock_tracking_keys(connection: DbConnection, *, keys: Iterable[str]) -> None:
    """Serialise, per tracking key (whatever the carrier: a `generic` event matches any
    carrier's parcel), matching carrier events and creating shipments.

    Without it an event could be parked as pending by one transaction while another
    creates its shipment and finds nothing pending: the event would never be matched.
    Transaction-scoped; taken in sorted order so two transactions cannot deadlock.
    """
    names = sorted({f"tracking:{key}" for key in keys})
    if names:
        await connection.execute(
            "SELECT pg_advisory_xact_lock(hashtext(name))"
            " FROM unnest($1::text[]) AS name ORDER BY name",
            names,
        )


@dataclass(frozen=True)
class ShipmentWrite:
    """A shipment's new facts and, for queries, the status they publish."""

    merchant_id: str
    shipment_id: str
    version: int
    base: ShipmentBase
    progress: Progress
    status: TrackingStatus
    substatus: Substatus
    final: bool


async def update_shipments(connection: DbConnection, *, writes: Sequence[ShipmentWrite]) -> None:
    """Create or replace shipments (order facts and carrier progress)."""
    if not writes:
        return
    await connection.executemany(
        """
        INSERT INTO shipments (merchant_id, shipment_id, order_id, carrier, tracking_key, version,
                               status, substatus, final, base, progress)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb)
        ON CONFLICT (merchant_id, shipment_id) DO UPDATE SET
            order_id = EXCLUDED.order_id,
            carrier = EXCLUDED.carrier,
            tracking_key = EXCLUDED.tracking_key,
            version = EXCLUDED.version,
            status = EXCLUDED.status,
            substatus = EXCLUDED.substatus,
            final = EXCLUDED.final,
            base = EXCLUDED.base,
            progress = EXCLUDED.progress,
            updated_at = now()
        """,
        [_shipment_values(write) for write in writes],
    )


def _shipment_values(write: ShipmentWrite) -> tuple[Any, ...]:
    tracking = write.base.tracking
    return (
        write.merchant_id,
        write.shipment_id,
        write.base.order_id,
        tracking[0] if tracking else None,
        tracking[1] if tracking else None,
        write.version,
        write.status.value,
        write.substatus.value,
        write.final,
        write.base.model_dump_json(),
        write.progress.model_dump_json(),
    )


@dataclass(frozen=True)
class ProgressWrite:
    """A tracked shipment's new carrier progress and version, and the status they
    publish (for queries)."""

    merchant_id: str
    shipment_id: str
    version: int
    progress: Progress
    status: TrackingStatus
    substatus: Substatus
    final: bool


async def update_progress(connection: DbConnection, *, writes: Sequence[ProgressWrite]) -> None:
    """Store new carrier progress and versions of existing shipments (one statement)."""
    if not writes:
        return
    await connection.execute(
        """
        UPDATE shipments SET version = w.version, status = w.status, substatus = w.substatus,
                             final = w.final, progress = w.progress::jsonb, updated_at = now()
        FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bool[],
                    $7::text[]) AS w(merchant_id, shipment_id, version, status, substatus, final,
                                     progress)
        WHERE shipments.merchant_id = w.merchant_id AND shipments.shipment_id = w.shipment_id
        """,
        [write.merchant_id for write in writes],
        [write.shipment_id for write in writes],
        [write.version for write in writes],
        [write.status.value for write in writes],
        [write.substatus.value for write in writes],
        [write.final for write in writes],
        [write.progress.model_dump_json() for write in writes],
    )


async def create_tracking_events(
    connection: DbConnection, *, records: Sequence[TrackingEventRecorded], values: Sequence[bytes]
) -> set[tuple[str, str, Any]]:
    """Record events once per shipment (`values[i]`: records[i] as JSON); returns
    (merchant, shipment, event id) of the new ones (a re-sent event is not returned)."""
    if not records:
        return set()
    rows = await connection.fetch(
        """
        INSERT INTO tracking_events (merchant_id, shipment_id, event_id, carrier, tracking_key,
                                     occurred_at, status, record)
        SELECT m, s, e, c, k, o, st, r::json
        FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[],
                    $6::timestamptz[], $7::text[], $8::text[]) AS t(m, s, e, c, k, o, st, r)
        ON CONFLICT DO NOTHING
        RETURNING merchant_id, shipment_id, event_id
        """,
        [record.merchant_id for record in records],
        [record.shipment_id for record in records],
        [record.event_id for record in records],
        [record.carrier for record in records],
        [record.tracking_number.upper() for record in records],
        [record.occurred_at for record in records],
        [record.status.value for record in records],
        [value.decode() for value in values],
    )
    return {(row["merchant_id"], row["shipment_id"], row["event_id"]) for row in rows}


async def create_outbox_rows(
    connection: DbConnection, *, topic: Topic, events: Sequence[Event], values: Sequence[bytes]
) -> None:
    """What relais_runtime.outbox.enqueue does (same table, same columns, same relay), with
    COPY and the events' JSON already encoded once by the caller (`values[i]` is
    `encode_event(events[i])`): the batch path writes thousands of rows per transaction."""
    for event in events:
        if not isinstance(event, topic.message_types):
            raise TypeError(f"{type(event).__name__} is not a message of topic {topic.name}")
    await copy_outbox_rows(connection, topic_name=topic.name, events=events, values=values)


async def copy_outbox_rows(
    connection: DbConnection, *, topic_name: str, events: Sequence[Event], values: Sequence[bytes]
) -> None:
    """create_outbox_rows without checking the events' types: each `values[i]` is a
    message of the topic, and `events[i]` gives its id, key and headers (a spliced
    state's head: domain.shipments.StateHead)."""
    if not events:
        return
    trace = trace_headers()
    await connection.copy_records_to_table(
        "outbox",
        columns=("event_id", "topic", "key", "value", "headers"),
        records=[
            (
                event.event_id,
                topic_name,
                event.partition_key(),
                value,
                headers_json(event, trace=trace),
            )
            for event, value in zip(events, values, strict=True)
        ],
    )


def headers_json(event: Event, *, trace: Sequence[tuple[str, bytes]]) -> str:
    """relais_runtime.kafka.event_headers(event) as the outbox stores them, with the trace
    context computed once for the whole batch (it is the same for every event of it).
    Only the correlation id differs from one event of a batch to the next: the rest is
    rendered once per event type and merchant."""
    return (
        _headers_head(event.event_type, event.schema_version)
        + json.dumps(event.correlation_id)
        + _headers_tail(event.merchant_id, tuple(trace))
    )


@lru_cache(maxsize=256)
def _headers_head(event_type: str, schema_version: int) -> str:
    head = {
        "content-type": "application/json",
        "event_type": event_type,
        "schema_version": str(schema_version),
    }
    return json.dumps(head)[:-1] + ', "correlation_id": '


@lru_cache(maxsize=1024)
def _headers_tail(merchant_id: str, trace: tuple[tuple[str, bytes], ...]) -> str:
    tail = {"merchant_id": merchant_id} | {name: raw.decode() for name, raw in trace}
    return ", " + json.dumps(tail)[1:]


async def list_tracking_events(
    connection: DbConnection, *, shipments: Sequence[tuple[ShipmentKey, TrackingKey]]
) -> dict[ShipmentKey, list[CarrierEvent]]:
    """Each shipment's recorded events for its current tracking number and a compatible
    carrier, in event-time order (ties in recording order)."""
    if not shipments:
        return {}
    rows = await connection.fetch(
        """
        SELECT t.merchant_id, t.shipment_id, t.record::text AS record
        FROM tracking_events t
        JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS w(m, s, c, k)
          ON t.merchant_id = w.m AND t.shipment_id = w.s AND t.tracking_key = w.k
         AND (t.carrier = w.c OR $5 IN (t.carrier, w.c))
        ORDER BY t.occurred_at, t.seq
        """,
        [shipment[0] for shipment, _ in shipments],
        [shipment[1] for shipment, _ in shipments],
        [tracking[0] for _, tracking in shipments],
        [tracking[1] for _, tracking in shipments],
        GENERIC,
    )
    events: dict[ShipmentKey, list[CarrierEvent]] = {}
    for row in rows:
        record = TrackingEventRecorded.model_validate_json(row["record"])
        events.setdefault((row["merchant_id"], row["shipment_id"]), []).append(
            carrier_event_of_record(record)
        )
    return events


async def create_pending_events(
    connection: DbConnection,
    *,
    events: Sequence[tuple[str, CarrierEvent]],
    received_at: datetime,
) -> None:
    """Hold events whose tracking number matches no shipment yet, with the merchant the
    receiver knew (or `unknown`) and the service clock's `received_at` (expiry counts
    from it); a re-sent event is held once (its first `received_at` stays)."""
    if not events:
        return
    await connection.execute(
        """
        INSERT INTO pending_tracking_events (carrier, tracking_key, event_id, merchant_id,
                                             occurred_at, event, received_at)
        SELECT c, k, e, m, o, v::jsonb, $7
        FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[],
                    $6::text[]) AS t(c, k, e, m, o, v)
        ON CONFLICT DO NOTHING
        """,
        [event.carrier for _, event in events],
        [event.tracking_key for _, event in events],
        [event.event_id for _, event in events],
        [merchant for merchant, _ in events],
        [event.occurred_at for _, event in events],
        [CARRIER_EVENT_JSON.dump_json(event).decode() for _, event in events],
        received_at,
    )


async def delete_pending_events(
    connection: DbConnection, *, tracking: TrackingKey, merchant_id: str, unknown_merchant: str
) -> list[CarrierEvent]:
    """Take the held events of this tracking number, of a carrier compatible with the
    parcel's, that may belong to this merchant."""
    rows = await connection.fetch(
        "DELETE FROM pending_tracking_events"
        " WHERE tracking_key = $2 AND (carrier = $1 OR $5 IN (carrier, $1))"
        " AND merchant_id IN ($3, $4)"
        " RETURNING event::text AS event",
        tracking[0],
        tracking[1],
        merchant_id,
        unknown_merchant,
        GENERIC,
    )
    return [CARRIER_EVENT_JSON.validate_json(row["event"]) for row in rows]


async def delete_pending_events_of(
    connection: DbConnection,
    *,
    parcels: Sequence[tuple[str, TrackingKey]],
    unknown_merchant: str,
) -> dict[str, list[CarrierEvent]]:
    """delete_pending_events for several parcels (merchant, (carrier, tracking key)) in
    one statement, by tracking key; each tracking key at most once in `parcels` (a held
    event is taken by one parcel)."""
    if not parcels:
        return {}
    rows = await connection.fetch(
        "DELETE FROM pending_tracking_events p"
        " USING unnest($1::text[], $2::text[], $3::text[]) AS w(m, c, k)"
        " WHERE p.tracking_key = w.k AND (p.carrier = w.c OR $5 IN (p.carrier, w.c))"
        " AND p.merchant_id IN (w.m, $4)"
        " RETURNING w.k AS tracking_key, p.event::text AS event",
        [merchant for merchant, _ in parcels],
        [tracking[0] for _, tracking in parcels],
        [tracking[1] for _, tracking in parcels],
        unknown_merchant,
        GENERIC,
    )
    taken: dict[str, list[CarrierEvent]] = {}
    for row in rows:
        taken.setdefault(row["tracking_key"], []).append(
            CARRIER_EVENT_JSON.validate_json(row["event"])
        )
    return taken


@dataclass(frozen=True)
class PollTarget:
    merchant_id: str
    shipment_id: str
    carrier: str
    tracking_number: str


async def list_shipments_to_poll(
    connection: DbConnection, *, carriers: Sequence[str], plan: PollPlan, limit: int
) -> list[PollTarget]:
    """Shipments that are not final, have a tracking number of a polled carrier and are
    due by the schedule (relais_tracker.domain.polling, whose `poll_interval` this
    mirrors); never polled first, then the longest overdue."""
    rows = await connection.fetch(
        """
        WITH candidates AS (
            SELECT merchant_id, shipment_id, carrier,
                   base->>'tracking_number' AS tracking_number,
                   polled_at + CASE
                       WHEN status = ANY($2::text[]) THEN $3::interval
                       WHEN LEAST((base->>'promised_delivery_by')::date,
                                  (progress->'estimated_delivery'->>'day')::date)
                            BETWEEN $4::date AND $5::date THEN $6::interval
                       ELSE $7::interval
                   END AS due_at
            FROM shipments
            WHERE NOT final AND tracking_key IS NOT NULL AND carrier = ANY($1::text[])
              AND (polled_at IS NULL OR polled_at <= $8)
        )
        SELECT merchant_id, shipment_id, carrier, tracking_number FROM candidates
        WHERE due_at IS NULL OR due_at <= $9
        ORDER BY due_at NULLS FIRST LIMIT $10
        """,
        list(carriers),
        [status.value for status in plan.out_for_delivery_statuses],
        plan.out_for_delivery_every,
        plan.promise_from,
        plan.promise_until,
        plan.promise_near_every,
        plan.regular_every,
        plan.polled_before,
        plan.now,
        limit,
    )
    return [
        PollTarget(
            merchant_id=row["merchant_id"],
            shipment_id=row["shipment_id"],
            carrier=row["carrier"],
            tracking_number=row["tracking_number"],
        )
        for row in rows
    ]


async def update_polled_at(
    connection: DbConnection, *, merchant_id: str, shipment_id: str, polled_at: datetime
) -> None:
    await connection.execute(
        "UPDATE shipments SET polled_at = $3 WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
        polled_at,
    )


def snapshot_of(text: str | None) -> Any:
    return None if text is None else json.loads(text)


async def list_shipment_summaries(
    connection: DbConnection, *, merchant_id: str, order_id: str
) -> list[dict[str, Any]]:
    """What the order API shows of an order's shipments, in parcel order."""
    rows = await connection.fetch(
        "SELECT shipment_id, carrier, base->>'tracking_number' AS tracking_number, status,"
        " substatus, final, version, (base->>'parcel_index')::int AS parcel_index,"
        " progress->'last_event'->>'occurred_at' AS last_event_at"
        " FROM shipments WHERE merchant_id = $1 AND order_id = $2 ORDER BY parcel_index",
        merchant_id,
        order_id,
    )
    return [dict(row) for row in rows]


async def delete_expired_pending_events(
    connection: DbConnection, *, received_before: datetime, limit: int
) -> list[tuple[str, datetime]]:
    """Delete up to `limit` held events received before `received_before`, oldest first;
    returns each one's (carrier, received_at). Rows an order's transaction is taking are
    skipped (SKIP LOCKED): a pass never waits, the event is taken or expires next time."""
    rows = await connection.fetch(
        """
        DELETE FROM pending_tracking_events
        WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM pending_tracking_events
            WHERE received_at < $1
            ORDER BY received_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        ))
        RETURNING carrier, received_at
        """,
        received_before,
        limit,
    )
    return [(row["carrier"], row["received_at"]) for row in rows]


@dataclass(frozen=True)
class HeldEventRow:
    """A held event as `relais tracker unmatched` shows it, with the parcels following
    its tracking number (each (merchant, carrier)), if any."""

    carrier: str
    tracking_key: str
    merchant_id: str
    received_at: datetime
    occurred_at: datetime
    parcels: tuple[tuple[str, str], ...]


async def list_pending_events(connection: DbConnection, *, limit: int) -> list[HeldEventRow]:
    """Held events, oldest received first, each with the shipments of its tracking key."""
    rows = await connection.fetch(
        """
        SELECT p.carrier, p.tracking_key, p.merchant_id, p.received_at, p.occurred_at,
               COALESCE((SELECT array_agg(s.merchant_id || '/' || s.carrier
                                          ORDER BY s.merchant_id, s.carrier)
                         FROM shipments s WHERE s.tracking_key = p.tracking_key), '{}')
                 AS parcels
        FROM pending_tracking_events p
        ORDER BY p.received_at, p.tracking_key
        LIMIT $1
        """,
        limit,
    )
    return [
        HeldEventRow(
            carrier=row["carrier"],
            tracking_key=row["tracking_key"],
            merchant_id=row["merchant_id"],
            received_at=row["received_at"],
            occurred_at=row["occurred_at"],
            parcels=tuple(
                (merchant, carrier)
                for merchant, _, carrier in (p.rpartition("/") for p in row["parcels"])
            ),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class UnknownCode:
    """A carrier code no table of the adapter that read it knows."""

    carrier: str
    """The adapter that read it (the one whose table is to extend)."""
    carrier_code: str
    description: str


@dataclass(frozen=True)
class UnknownCodeRow:
    carrier: str
    carrier_code: str
    seen: int
    example: str
    first_seen_at: datetime
    last_seen_at: datetime


async def update_unknown_codes(
    connection: DbConnection, *, codes: Sequence[UnknownCode], seen_at: datetime
) -> None:
    """Count each unknown code once more per occurrence, keeping the latest non-empty
    description as its example (200 characters at most)."""
    counted: dict[tuple[str, str], tuple[int, str]] = {}
    for code in codes:
        key = (code.carrier, code.carrier_code[:100])
        seen, example = counted.get(key, (0, ""))
        counted[key] = (seen + 1, code.description[:200] or example)
    if not counted:
        return
    keys = sorted(counted)  # one order for every transaction: no deadlock between batches
    await connection.execute(
        """
        INSERT INTO unknown_carrier_codes AS u
            (carrier, carrier_code, seen, example, first_seen_at, last_seen_at)
        SELECT c, k, n, d, $5, $5
        FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS t(c, k, n, d)
        ON CONFLICT (carrier, carrier_code) DO UPDATE SET
            seen = u.seen + EXCLUDED.seen,
            example = CASE WHEN EXCLUDED.example <> '' THEN EXCLUDED.example ELSE u.example END,
            last_seen_at = GREATEST(u.last_seen_at, EXCLUDED.last_seen_at)
        """,
        [carrier for carrier, _ in keys],
        [code for _, code in keys],
        [counted[key][0] for key in keys],
        [counted[key][1] for key in keys],
        seen_at,
    )


async def list_unknown_codes(
    connection: DbConnection, *, carrier: str | None = None, limit: int
) -> list[UnknownCodeRow]:
    """The unknown codes seen, most seen first (of one carrier when given)."""
    rows = await connection.fetch(
        "SELECT carrier, carrier_code, seen, example, first_seen_at, last_seen_at"
        " FROM unknown_carrier_codes WHERE $1::text IS NULL OR carrier = $1"
        " ORDER BY seen DESC, carrier, carrier_code LIMIT $2",
        carrier,
        limit,
    )
    return [UnknownCodeRow(**dict(row)) for row in rows]


# Erasure of a customer (relais_tracker.service.erasure).


async def list_customer_orders(
    connection: DbConnection, *, merchant_id: str, email: str
) -> list[str]:
    """Ids of the merchant's orders not yet erased whose customer is `email` (already
    normalised: trimmed, lower case), locked for update, in id order."""
    rows = await connection.fetch(
        "SELECT order_id FROM orders WHERE merchant_id = $1 AND erased_at IS NULL"
        " AND lower(btrim(snapshot->'customer'->>'email')) = $2 ORDER BY order_id FOR UPDATE",
        merchant_id,
        email,
    )
    return [row["order_id"] for row in rows]


@dataclass(frozen=True)
class CustomerShipment:
    shipment_id: str
    order_id: str
    tracking_key: str | None


async def list_customer_shipments(
    connection: DbConnection, *, merchant_id: str, email: str, order_ids: Sequence[str]
) -> list[CustomerShipment]:
    """The shipments of these orders and those whose customer is `email`, locked for
    update, in key order."""
    rows = await connection.fetch(
        "SELECT shipment_id, order_id, tracking_key FROM shipments WHERE merchant_id = $1"
        " AND (order_id = ANY($3::text[]) OR lower(btrim(base->'customer'->>'email')) = $2)"
        " ORDER BY shipment_id FOR UPDATE",
        merchant_id,
        email,
        list(order_ids),
    )
    return [CustomerShipment(**dict(row)) for row in rows]


async def update_orders_erased(
    connection: DbConnection, *, merchant_id: str, order_ids: Sequence[str], erased_at: datetime
) -> int:
    """Drop the orders' snapshots and mark them erased; returns how many rows changed."""
    result: str = await connection.execute(
        "UPDATE orders SET snapshot = NULL, erased_at = COALESCE(erased_at, $3),"
        " updated_at = now() WHERE merchant_id = $1 AND order_id = ANY($2::text[])",
        merchant_id,
        list(order_ids),
        erased_at,
    )
    return int(result.split()[-1])


async def get_order_erased(connection: DbConnection, *, merchant_id: str, order_id: str) -> bool:
    erased: bool | None = await connection.fetchval(
        "SELECT erased_at IS NOT NULL FROM orders WHERE merchant_id = $1 AND order_id = $2",
        merchant_id,
        order_id,
    )
    return bool(erased)


async def _deleted(connection: DbConnection, sql: str, *args: Any) -> int:
    result: str = await connection.execute(sql, *args)
    return int(result.split()[-1])


async def delete_customer_shipments(
    connection: DbConnection, *, merchant_id: str, shipment_ids: Sequence[str]
) -> tuple[int, int]:
    """Delete the shipments and their carrier history; returns (shipments, events)."""
    events = await _deleted(
        connection,
        "DELETE FROM tracking_events WHERE merchant_id = $1 AND shipment_id = ANY($2::text[])",
        merchant_id,
        list(shipment_ids),
    )
    shipments = await _deleted(
        connection,
        "DELETE FROM shipments WHERE merchant_id = $1 AND shipment_id = ANY($2::text[])",
        merchant_id,
        list(shipment_ids),
    )
    return shipments, events


async def delete_held_events(
    connection: DbConnection, *, tracking_keys: Sequence[str], merchant_ids: Sequence[str]
) -> int:
    """Delete the carrier events held for these tracking numbers, received for one of
    these merchants (the merchant, or `unknown`)."""
    return await _deleted(
        connection,
        "DELETE FROM pending_tracking_events"
        " WHERE tracking_key = ANY($1::text[]) AND merchant_id = ANY($2::text[])",
        list(tracking_keys),
        list(merchant_ids),
    )


async def delete_outbox_rows(connection: DbConnection, *, keys: Sequence[bytes]) -> int:
    """Delete every outbox row with one of these Kafka keys, published or not (a row not
    yet published is superseded by the tombstone written after it)."""
    return await _deleted(connection, "DELETE FROM outbox WHERE key = ANY($1::bytea[])", list(keys))


@dataclass(frozen=True)
class Tombstone:
    event_id: Any
    topic: str
    key: bytes
    merchant_id: str


async def create_tombstones(connection: DbConnection, *, tombstones: Sequence[Tombstone]) -> None:
    """Outbox rows with a key and a null value: the relay publishes them as tombstones,
    in order after every row written before them; one row per event id."""
    await connection.executemany(
        "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, NULL, $4)"
        " ON CONFLICT (event_id) DO NOTHING",
        [
            (one.event_id, one.topic, one.key, json.dumps({"merchant_id": one.merchant_id}))
            for one in tombstones
        ],
    )


@dataclass(frozen=True)
class ErasureRecord:
    """The audit record of one erasure: counts and a salted hash, never the address."""

    erasure_id: Any
    merchant_id: str
    email_salt: bytes
    email_digest: str
    source: str
    orders: int
    shipments: int
    tracking_events: int
    held_events: int
    outbox_rows: int
    requested_at: datetime
    completed_at: datetime


async def create_erasure(connection: DbConnection, *, record: ErasureRecord) -> None:
    await connection.execute(
        "INSERT INTO erasures (erasure_id, merchant_id, email_salt, email_digest, source,"
        " orders, shipments, tracking_events, held_events, outbox_rows, requested_at,"
        " completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        record.erasure_id,
        record.merchant_id,
        record.email_salt,
        record.email_digest,
        record.source,
        record.orders,
        record.shipments,
        record.tracking_events,
        record.held_events,
        record.outbox_rows,
        record.requested_at,
        record.completed_at,
    )


async def get_erasure(
    connection: DbConnection, *, merchant_id: str, erasure_id: Any
) -> ErasureRecord | None:
    row = await connection.fetchrow(
        "SELECT * FROM erasures WHERE merchant_id = $1 AND erasure_id = $2",
        merchant_id,
        erasure_id,
    )
    return None if row is None else ErasureRecord(**dict(row))


async def list_erasures(
    connection: DbConnection, *, merchant_id: str, limit: int
) -> list[ErasureRecord]:
    """The merchant's erasures, newest first."""
    rows = await connection.fetch(
        "SELECT * FROM erasures WHERE merchant_id = $1 ORDER BY requested_at DESC LIMIT $2",
        merchant_id,
        limit,
    )
    return [ErasureRecord(**dict(row)) for row in rows]
