"""The data of `relais bench office`: N shipments with ~8 timeline entries each, spread
over 10 merchants, with realistic shares of statuses, anomalies, carriers and countries,
written by COPY into the insights schema's read model (secondary indexes dropped during
the load and rebuilt after it, as a bulk load should), then ANALYZEd.

Deterministic for a given seed: the same N gives the same rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import asyncpg
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from relais_cli.bench.common import console
from relais_insights.order_repository import STATE_COLUMNS

MERCHANT_WEIGHTS: Final = (0.25, 0.18, 0.14, 0.11, 0.09, 0.07, 0.06, 0.04, 0.03, 0.03)
STATUSES: Final = (
    ("delivered", "delivered_to_recipient", 0.70),
    ("in_transit", "in_transit", 0.12),
    ("out_for_delivery", "out_for_delivery", 0.03),
    ("failed_attempt", "recipient_absent", 0.03),
    ("available_for_pickup", "ready_for_pickup", 0.04),
    ("info_received", "label_created", 0.04),
    ("exception", "delayed", 0.02),
    ("pending", "pending", 0.02),
)
ANOMALIES: Final = (
    ("delivery_late", 0.35),
    ("stalled", 0.15),
    ("failed_attempt", 0.15),
    ("pickup_ready", 0.10),
    ("address_problem", 0.05),
    ("held_at_customs", 0.05),
    ("damaged", 0.04),
    ("lost", 0.04),
    ("returned_to_sender", 0.04),
    ("refused", 0.03),
)
CARRIERS: Final = (
    ("colissimo", 0.35),
    ("chronopost", 0.15),
    ("mondial_relay", 0.15),
    ("dpd", 0.10),
    ("dhl", 0.10),
    ("ups", 0.08),
    ("gls", 0.07),
)
COUNTRIES: Final = (
    ("FR", 0.75),
    ("BE", 0.08),
    ("DE", 0.05),
    ("GB", 0.04),
    ("ES", 0.04),
    ("IT", 0.04),
)
OPEN_SHARE: Final = 0.06
RESOLVED_SHARE: Final = 0.09
TOLD_SHARE: Final = 0.85
DAYS: Final = 180
BATCH: Final = 20_000
TIMELINE_COLUMNS: Final = (
    "merchant_id",
    "shipment_id",
    "event_id",
    "at",
    "kind",
    "ref_id",
    "summary",
    "detail",
)
SHIPMENT_COLUMNS: Final = (
    "merchant_id",
    *STATE_COLUMNS,
    "open_anomalies",
    "anomalies_raised",
    "told",
    "last_event_at",
)


def merchant_ids(count: int = len(MERCHANT_WEIGHTS)) -> list[str]:
    return [f"bench-office-{n}" for n in range(count)]


class Pick:
    """Weighted choices, drawn fast from a precomputed table."""

    def __init__(self, rng: random.Random, weighted: Sequence[tuple[Any, ...]]) -> None:
        self.rng = rng
        self.values = [item[:-1] if len(item) > 2 else item[0] for item in weighted]
        self.weights = [item[-1] for item in weighted]

    def __call__(self) -> Any:
        return self.rng.choices(self.values, self.weights)[0]


@dataclass
class Generator:
    """Rows of one shipment and its timeline, from a seeded random source."""

    now: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(20260301))

    def __post_init__(self) -> None:
        self.status = Pick(self.rng, STATUSES)
        self.anomaly = Pick(self.rng, ANOMALIES)
        self.carrier = Pick(self.rng, CARRIERS)
        self.country = Pick(self.rng, COUNTRIES)
        self.merchant = Pick(self.rng, list(zip(merchant_ids(), MERCHANT_WEIGHTS, strict=True)))

    def uuid(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def shipment(self, n: int) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        rng = self.rng
        merchant_id = self.merchant()
        status, substatus = self.status()
        ordered_at = self.now - timedelta(seconds=rng.randrange(DAYS * 86400))
        shipped_at = ordered_at + timedelta(hours=rng.randrange(4, 48))
        delivered_at = (
            shipped_at + timedelta(hours=rng.randrange(20, 120)) if status == "delivered" else None
        )
        country = self.country()
        luck = rng.random()
        anomaly = self.anomaly() if luck < OPEN_SHARE + RESOLVED_SHARE else None
        open_anomalies = [anomaly] if anomaly and luck < OPEN_SHARE else []
        told = anomaly is not None and rng.random() < TOLD_SHARE
        shipment_id = f"S{n:08d}"
        timeline = self.timeline(
            merchant_id, shipment_id, ordered_at, anomaly, open_anomalies, told
        )
        row = (
            merchant_id, shipment_id, 5, f"O{n:08d}", f"#{n + 100000:08d}",
            f"customer{n}@example.com", f"Client {n}", f"6A{n:011d}", self.carrier(),
            status, substatus, country, f"{country}-{rng.randrange(1, 96):02d}",
            ordered_at, shipped_at, (shipped_at + timedelta(days=3)).date(), delivered_at,
            False, 1, 1, open_anomalies, 1 if anomaly else 0, told, timeline[-1][3],
        )  # fmt: skip
        return row, timeline

    def timeline(
        self,
        merchant_id: str,
        shipment_id: str,
        start: datetime,
        anomaly: str | None,
        still_open: list[str],
        told: bool,
    ) -> list[tuple[Any, ...]]:
        """~8 entries: order, scans, then the anomaly's story (or more scans and a survey)."""
        steps: list[tuple[str, str, dict[str, Any]]] = [
            ("order_placed", "Order placed", {"parcel_index": 1}),
            ("carrier_scan", "colissimo: Label created", {"status": "info_received"}),
            ("carrier_scan", "colissimo: Parcel handed over", {"status": "in_transit"}),
            ("carrier_scan", "colissimo: At the sorting centre", {"status": "in_transit"}),
        ]
        if anomaly:
            steps.append(("anomaly_raised", f"Anomaly {anomaly}", {"anomaly_type": anomaly}))
            if told:
                steps.append(
                    (
                        "message",
                        "email sent: anomaly",
                        {"outcome": "sent", "channel": "email", "trigger_kind": "anomaly"},
                    )
                )
            steps.append(("chat_started", "Chat opened", {"entry": "email_link"}))
            if not still_open:
                steps.append(
                    ("anomaly_resolved", f"Anomaly {anomaly} resolved", {"anomaly_type": anomaly})
                )
        else:
            steps += [
                ("carrier_scan", "colissimo: Out for delivery", {"status": "out_for_delivery"}),
                ("carrier_scan", "colissimo: Delivered", {"status": "delivered"}),
                ("tracking_page_viewed", "Tracking page viewed", {"entry": "email_link"}),
                ("survey_answer", "Survey answered: 5/5", {"csat": 5}),
            ]
        anomaly_id = self.uuid()
        at = start
        entries = []
        for kind, summary, detail in steps:
            at += timedelta(minutes=self.rng.randrange(20, 900))
            ref = anomaly_id if kind.startswith("anomaly") else None
            entries.append(
                (merchant_id, shipment_id, self.uuid(), at, kind, ref, summary, json.dumps(detail))
            )
        return entries

    def batches(self, total: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        for first in range(0, total, BATCH):
            rows, entries = [], []
            for n in range(first, min(total, first + BATCH)):
                row, timeline = self.shipment(n)
                rows.append(row)
                entries += timeline
            yield rows, entries


async def secondary_indexes(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename IN ('office_shipments', 'office_timeline') AND indexname NOT LIKE '%_pkey'"
    )
    return [(row["indexname"], row["indexdef"]) for row in rows]


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def fill(connection: asyncpg.Connection, *, shipments: int, now: datetime) -> int:
    """COPY `shipments` rows and their timelines; returns the timeline entries written."""
    indexes = await secondary_indexes(connection)
    for name, _ in indexes:
        await connection.execute(f'DROP INDEX "{name}"')
    written = 0
    with progress_bar() as progress:
        task = progress.add_task("shipments copied", total=shipments)
        for rows, entries in Generator(now=now.astimezone(UTC)).batches(shipments):
            await connection.copy_records_to_table(
                "office_shipments", records=rows, columns=list(SHIPMENT_COLUMNS)
            )
            await connection.copy_records_to_table(
                "office_timeline", records=entries, columns=list(TIMELINE_COLUMNS)
            )
            written += len(entries)
            progress.advance(task, len(rows))
        task = progress.add_task("indexes rebuilt", total=len(indexes) + 1)
        for _, definition in indexes:
            await connection.execute(definition)
            progress.advance(task)
        await connection.execute("ANALYZE office_shipments")
        await connection.execute("ANALYZE office_timeline")
        progress.advance(task)
    return written
