"""Where a journey's time goes: the webhook -> email latency cut at each hop, read
back from the services' own tables after a rate (bench-only, nothing is added to the
services).

Rules:
- one journey is followed by its shipment (the order's shipment in tracker.shipments);
  the hops' times are those the services store, all on this machine's wall clock:
  0. `webhook answered`: the webhook written -> its 202 read by the sender: HTTP
     handler, producer linger and Kafka's ack;
  1. `tracker consumer`: -> the tracker's consumer transaction that recorded the failed
     attempt began (created_at of the shipment's last shipment-state outbox row): the
     tracker's Kafka fetch and decode, the batch before it (may be negative: the
     consumer can start before the sender reads the answer);
  2. `tracker outbox`: -> the tracker's relay pass that took that row began
     (published_at): the consumer's batch, its commit, the NOTIFY wake-up;
  3. `detector`: -> the detector's consumer transaction that stored the anomaly began
     (created_at of its AnomalyDetected outbox row): relay send and ack, Kafka fetch;
  4. `detector outbox`: -> the detector's relay pass that took it began;
  5. `notifier`: -> the notifier planned the message (notifications.planned_at);
  6. `dispatcher`: -> the dispatcher claimed it (claimed_at): batch, commit, wake-up;
  7. `smtp`: -> the email was stored by the SMTP catcher (rendering, SMTP exchange);
- PostgreSQL's now() is the start of the transaction, so a hop ends when the next
  step's transaction began, not when it committed;
- a journey one of whose times is missing (email never came) is left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise

import asyncpg
from rich.table import Table

from relais_cli.bench.stats import Spread

HOPS = (
    "webhook answered",
    "tracker consumer",
    "tracker outbox",
    "detector",
    "detector outbox",
    "notifier",
    "dispatcher",
    "smtp",
)

STAMPS_SQL = """
WITH s AS (
    SELECT lower(order_id) AS order_key, merchant_id, shipment_id,
        convert_to(merchant_id || '/' || shipment_id, 'UTF8') AS key
    FROM tracker.shipments WHERE lower(order_id) = ANY($1::text[])
), ts AS (
    SELECT DISTINCT ON (o.key) o.key, o.created_at, o.published_at
    FROM tracker.outbox o JOIN s ON o.key = s.key
    WHERE o.topic = 'relais.shipment-state.v1'
    ORDER BY o.key, o.id DESC
), da AS (
    SELECT DISTINCT ON (o.key) o.key, o.created_at, o.published_at
    FROM detector.outbox o JOIN s ON o.key = s.key
    WHERE o.headers->>'event_type' = 'AnomalyDetected'
    ORDER BY o.key, o.id
), n AS (
    SELECT DISTINCT ON (n.merchant_id, n.shipment_id)
        n.merchant_id, n.shipment_id, n.planned_at, n.claimed_at
    FROM notifier.notifications n
    JOIN s ON n.merchant_id = s.merchant_id AND n.shipment_id = s.shipment_id
    WHERE n.channel = 'email' AND n.claimed_at IS NOT NULL
    ORDER BY n.merchant_id, n.shipment_id, n.claimed_at
)
SELECT s.order_key,
    ts.created_at AS tracker_at, ts.published_at AS tracker_published_at,
    da.created_at AS detector_at, da.published_at AS detector_published_at,
    n.planned_at AS notifier_at, n.claimed_at AS dispatcher_at
FROM s
LEFT JOIN ts ON ts.key = s.key
LEFT JOIN da ON da.key = s.key
LEFT JOIN n ON n.merchant_id = s.merchant_id AND n.shipment_id = s.shipment_id
"""

STAMP_COLUMNS = (
    "tracker_at",
    "tracker_published_at",
    "detector_at",
    "detector_published_at",
    "notifier_at",
    "dispatcher_at",
)


def hop_durations(
    webhook_at: float, answered_at: float, stamps: list[datetime | None], mail_at: float
) -> list[float]:
    """Seconds of each hop of one journey (pure); [] when a time is missing."""
    if any(stamp is None for stamp in stamps):
        return []
    stored = [stamp.timestamp() for stamp in stamps if stamp is not None]
    times = [webhook_at, answered_at, *stored, mail_at]
    return [later - earlier for earlier, later in pairwise(times)]


async def read_stamps(database_url: str, order_keys: list[str]) -> dict[str, list[datetime | None]]:
    """Each order's stored times (STAMP_COLUMNS), by order key (lower case)."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(STAMPS_SQL, order_keys)
    finally:
        await connection.close()
    return {row["order_key"]: [row[column] for column in STAMP_COLUMNS] for row in rows}


def hop_spreads(
    database_url: str, journeys: Mapping[str, tuple[float, float, float]]
) -> dict[str, Spread]:
    """Per hop, the spread of its durations (seconds) over the journeys given as
    order key -> (webhook written, answered, email stored)."""
    try:
        stamps = asyncio.run(read_stamps(database_url, list(journeys)))
    except (OSError, asyncpg.PostgresError):
        return {}
    per_hop: list[list[float]] = [[] for _ in HOPS]
    for key, (webhook_at, answered_at, mail_at) in journeys.items():
        durations = hop_durations(webhook_at, answered_at, stamps.get(key, [None]), mail_at)
        for hop, duration in zip(per_hop, durations, strict=False):
            hop.append(duration)
    return {name: Spread.of(values) for name, values in zip(HOPS, per_hop, strict=True)}


def hops_table(rate: float, spreads: Mapping[str, Spread]) -> Table:
    table = Table(title=f"{rate:,.0f} events/s: where the time goes, per hop (ms)")
    for column in ("hop", "journeys", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "hop" else "right")
    for name, spread in spreads.items():
        table.add_row(
            name,
            f"{spread.count:,}",
            *(f"{value * 1000:,.0f}" for value in (spread.p50, spread.p90, spread.p99, spread.max)),
        )
    return table
