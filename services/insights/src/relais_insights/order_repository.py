"""SQL of the back office's orders read model (office_shipments, office_timeline).

Rules:
- every statement is scoped by the merchant;
- a projection step first takes the shipment's transaction-scoped advisory lock: the
  consumers of different topics then update one shipment one after the other, and each
  recomputes the derived columns (open anomalies, told, last event) from the committed
  timeline, so no update is lost whatever order the topics deliver in;
- the list is read by keyset (see domain.order_filters); prefix searches compare in
  byte order (COLLATE "C") so the btree indexes of the migration serve them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from relais_insights.domain.order_filters import (
    Position,
    ShipmentQuery,
    day_range,
    prefix_upper_bound,
    search_terms,
)
from relais_insights.domain.order_timeline import (
    TOLD_TRIGGERS,
    ListedShipment,
    OfficeShipment,
    TimelineEntry,
    TimelineKind,
)
from relais_runtime.db import DbConnection

STATE_COLUMNS: Final = (
    "shipment_id",
    "version",
    "order_id",
    "order_number",
    "customer_email",
    "customer_name",
    "tracking_number",
    "carrier",
    "status",
    "substatus",
    "country",
    "region",
    "ordered_at",
    "shipped_at",
    "promised_delivery_by",
    "delivered_at",
    "cancelled",
    "parcel_index",
    "parcel_count",
)
LISTED_COLUMNS: Final = (
    *STATE_COLUMNS,
    "open_anomalies",
    "anomalies_raised",
    "told",
    "resolved",
    "last_event_at",
)
_SELECT: Final = ", ".join(LISTED_COLUMNS)


async def lock_shipment(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    """Held until the transaction ends: one projection step per shipment at a time."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7331))",
        merchant_id,
        shipment_id,
    )


def _upsert_statement() -> str:
    columns = ", ".join(STATE_COLUMNS)
    values = ", ".join(f"${n}" for n in range(2, len(STATE_COLUMNS) + 2))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in STATE_COLUMNS if c != "shipment_id")
    return (
        f"INSERT INTO office_shipments (merchant_id, {columns}, last_event_at)"  # noqa: S608
        f" VALUES ($1, {values}, ${len(STATE_COLUMNS) + 2})"
        f" ON CONFLICT (merchant_id, shipment_id) DO UPDATE SET {updates}"
        " WHERE office_shipments.version < EXCLUDED.version"
    )


UPSERT: Final = _upsert_statement()


async def update_office_shipment(
    connection: DbConnection, *, merchant_id: str, shipment: OfficeShipment
) -> None:
    """Keep the newest state: an older or equal version changes nothing."""
    values = [getattr(shipment, column) for column in STATE_COLUMNS]
    await connection.execute(UPSERT, merchant_id, *values, shipment.ordered_at)


async def create_timeline_entry(
    connection: DbConnection, *, merchant_id: str, entry: TimelineEntry
) -> None:
    """Insert once: the same event id twice leaves one entry."""
    await connection.execute(
        "INSERT INTO office_timeline"
        " (merchant_id, shipment_id, event_id, at, kind, ref_id, summary, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) ON CONFLICT DO NOTHING",
        merchant_id,
        entry.shipment_id,
        entry.event_id,
        entry.at,
        entry.kind.value,
        entry.ref_id,
        entry.summary,
        json.dumps(dict(entry.detail)),
    )


UPDATE_DERIVED: Final = f"""
UPDATE office_shipments s SET
    open_anomalies = COALESCE((
        SELECT array_agg(DISTINCT r.detail->>'anomaly_type' ORDER BY r.detail->>'anomaly_type')
        FROM office_timeline r
        WHERE r.merchant_id = $1 AND r.shipment_id = $2 AND r.kind = '{TimelineKind.ANOMALY_RAISED}'
          AND NOT EXISTS (
            SELECT 1 FROM office_timeline x
            WHERE x.merchant_id = $1 AND x.shipment_id = $2
              AND x.kind = '{TimelineKind.ANOMALY_RESOLVED}' AND x.ref_id = r.ref_id)
    ), '{{}}'),
    anomalies_raised = (
        SELECT count(DISTINCT ref_id) FROM office_timeline
        WHERE merchant_id = $1 AND shipment_id = $2 AND kind = '{TimelineKind.ANOMALY_RAISED}'
    ),
    told = EXISTS (
        SELECT 1 FROM office_timeline
        WHERE merchant_id = $1 AND shipment_id = $2 AND kind = '{TimelineKind.MESSAGE}'
          AND detail->>'outcome' = 'sent' AND detail->>'trigger_kind' = ANY($3::text[])
    ),
    last_event_at = GREATEST(s.ordered_at, (
        SELECT max(at) FROM office_timeline WHERE merchant_id = $1 AND shipment_id = $2
    ))
WHERE s.merchant_id = $1 AND s.shipment_id = $2
"""  # noqa: S608 (constant kinds)


async def update_derived(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    """Recompute what the timeline says about the shipment (no row yet: nothing to do)."""
    await connection.execute(UPDATE_DERIVED, merchant_id, shipment_id, list(TOLD_TRIGGERS))


async def delete_office_shipment(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> None:
    """Erasure: the row (with the customer's email and name) and its whole timeline."""
    await connection.execute(
        "DELETE FROM office_timeline WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )
    await connection.execute(
        "DELETE FROM office_shipments WHERE merchant_id = $1 AND shipment_id = $2",
        merchant_id,
        shipment_id,
    )


@dataclass
class Conditions:
    """A WHERE clause built one condition at a time, its values numbered $1, $2..."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, template: str, *values: Any) -> None:
        """`template` has one `{}` per value; the value is bound, never inlined."""
        numbers = []
        for value in values:
            self.params.append(value)
            numbers.append(f"${len(self.params)}")
        self.clauses.append(template.format(*numbers))

    def sql(self) -> str:
        return " AND ".join(self.clauses)


OPEN: Final = "cardinality(open_anomalies) > 0"
"""The predicate of the partial index office_shipments_open: written the same way."""


def _search(conditions: Conditions, q: str | None) -> None:
    terms = search_terms(q)
    if terms.email is not None:
        conditions.add("customer_email = {}", terms.email)
    if terms.prefix is not None:
        low, high = terms.prefix, prefix_upper_bound(terms.prefix)
        conditions.add(
            '((order_number COLLATE "C" >= {} AND order_number COLLATE "C" < {})'
            ' OR (tracking_number COLLATE "C" >= {} AND tracking_number COLLATE "C" < {}))',
            low,
            high,
            low,
            high,
        )


def _dates(conditions: Conditions, query: ShipmentQuery, time_zone: str) -> None:
    for column, start, end in (
        ("ordered_at", query.ordered_from, query.ordered_to),
        ("shipped_at", query.shipped_from, query.shipped_to),
    ):
        instants = day_range(start, end, time_zone)
        if instants.start is not None:
            conditions.add(f"{column} >= {{}}", instants.start)
        if instants.end is not None:
            conditions.add(f"{column} < {{}}", instants.end)


def _anomalies(conditions: Conditions, query: ShipmentQuery) -> None:
    if query.anomaly is not None:
        conditions.add(OPEN)
        conditions.add("open_anomalies @> ARRAY[{}]::text[]", query.anomaly.value)
    if query.resolved is True:
        conditions.add("resolved")
    elif query.resolved is False and query.anomaly is None:
        conditions.add(OPEN)
    elif query.resolved is False:
        pass  # an open anomaly of that type is already asked for
    if query.told is not None:
        conditions.add("told = {}", query.told)


def shipment_conditions(
    query: ShipmentQuery, *, merchant_id: str, time_zone: str, position: Position | None = None
) -> Conditions:
    """The WHERE clause of a list query: the merchant, every filter, the page's position."""
    conditions = Conditions()
    conditions.add("merchant_id = {}", merchant_id)
    for column, value in (
        ("status", query.status and query.status.value),
        ("carrier", query.carrier),
        ("country", query.country),
        ("region", query.region),
    ):
        if value is not None:
            conditions.add(f"{column} = {{}}", value)
    _anomalies(conditions, query)
    _dates(conditions, query, time_zone)
    _search(conditions, query.q)
    if position is not None:
        comparison = ">" if position.before else "<"
        conditions.add(
            f"(ordered_at, shipment_id) {comparison} ({{}}, {{}})",
            position.ordered_at,
            position.shipment_id,
        )
    return conditions


def list_statement(conditions: Conditions, *, before: bool, limit: int) -> str:
    direction = "ASC" if before else "DESC"
    return (
        f"SELECT {_SELECT} FROM office_shipments WHERE {conditions.sql()}"  # noqa: S608
        f" ORDER BY ordered_at {direction}, shipment_id {direction} LIMIT {int(limit)}"
    )


def _listed(row: Any) -> ListedShipment:
    values = dict(row)
    values["open_anomalies"] = tuple(values["open_anomalies"] or ())
    return ListedShipment(**values)


async def list_office_shipments(
    connection: DbConnection,
    *,
    merchant_id: str,
    query: ShipmentQuery,
    time_zone: str,
    position: Position | None,
    limit: int,
) -> list[ListedShipment]:
    """Up to `limit` rows from the position, in the page's own order (ascending when
    reading backwards: the caller turns them round)."""
    conditions = shipment_conditions(
        query, merchant_id=merchant_id, time_zone=time_zone, position=position
    )
    before = position is not None and position.before
    rows = await connection.fetch(
        list_statement(conditions, before=before, limit=limit), *conditions.params
    )
    return [_listed(row) for row in rows]


async def list_order_shipments(
    connection: DbConnection, *, merchant_id: str, order_number: str
) -> list[ListedShipment]:
    rows = await connection.fetch(
        f"SELECT {_SELECT} FROM office_shipments"  # noqa: S608
        ' WHERE merchant_id = $1 AND order_number COLLATE "C" = $2'
        " ORDER BY parcel_index, shipment_id",
        merchant_id,
        order_number,
    )
    return [_listed(row) for row in rows]


async def list_timeline(
    connection: DbConnection, *, merchant_id: str, shipment_ids: Sequence[str]
) -> list[TimelineEntry]:
    """The entries of these shipments, oldest first (ties by event id: a stable order)."""
    rows = await connection.fetch(
        "SELECT shipment_id, event_id, at, kind, ref_id, summary, detail FROM office_timeline"
        " WHERE merchant_id = $1 AND shipment_id = ANY($2::text[]) ORDER BY at, event_id",
        merchant_id,
        list(shipment_ids),
    )
    return [
        TimelineEntry(
            event_id=row["event_id"],
            shipment_id=row["shipment_id"],
            at=row["at"],
            kind=TimelineKind(row["kind"]),
            summary=row["summary"],
            ref_id=row["ref_id"] if isinstance(row["ref_id"], UUID) else None,
            detail=json.loads(row["detail"]),
        )
        for row in rows
    ]
