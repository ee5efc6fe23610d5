"""`relais bench tracker`: the tracker's carrier-update path, events/s vs its floor.

It measures the tracker's carrier-update path end to end on the
real broker and database: N carrier updates (generic Relais format, one event each)
are produced to Kafka, then
1. a bare aiokafka consumer reads them (consuming and nothing else);
2. the infrastructure floor (bench/floor.py) does the same I/O as the tracker with no
   logic: the same messages consumed, the same rows COPYed to PostgreSQL, the same
   output messages produced and acknowledged, the offsets committed;
3. the real tracker (in its own process or processes, production code paths) consumes
   the same messages, normalizes them, matches them to shipments, records them and
   their shipment states in PostgreSQL with the outbox rows, in batches.
The baseline is fair: the same messages, read with the same consumer settings and
batch size (`getmany(max_records=batch)`) as the tracker's batch consumer. The
tracker's figure counts an event done once it is persisted AND published (its outbox
row acknowledged by Kafka), and the run checks that the topics hold every tracking
event; the raw figure counts a message done once it is in hand. Both rates are
measured from the first message seen to the last one done, so group joins and
start-up are not counted. Everything runs on throw-away topics, schema and consumer
groups, removed at the end (unless --keep).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from relais_cli.bench.common import console, drop_schema, free_port, run_bench
from relais_cli.bench.floor import FloorRun, database_cpu_s, processes_cpu_s, run_floor
from relais_cli.bench.memory import memory_table, peak_rss_mb
from relais_cli.plots import pyplot
from relais_contracts.topics import carrier_updates, orders, shipment_state, tracking_events
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived, UpdateSource
from relais_runtime.kafka import encode_event, event_headers, make_producer
from relais_runtime.logging import configure_logging
from relais_runtime.service import RunningService, freeze_start_up_heap, run_event_loop
from relais_runtime.settings import load_settings
from relais_tracker.bootstrap import build_spec
from relais_tracker.settings import TrackerSettings

MERCHANT = "bench-shop"
TARGET_EVENTS_PER_S = 5_000
TARGET_FLOOR_RATIO = 0.5
STEPS = (
    ("accepted_by_carrier", "PU"),
    ("arrived_at_facility", "AR"),
    ("departed_facility", "DP"),
    ("in_transit_unspecified", "TR"),
    ("out_for_delivery_unspecified", "OD"),
    ("delivery_rescheduled", "RS"),
)
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@dataclass
class Timeline:
    """(seconds since start, count) samples, for the figures and the plot."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    cpu_s: float | None = None
    """CPU time of the tracker processes meanwhile."""
    database_cpu_s: float | None = None
    """CPU time of the PostgreSQL backends serving the path meanwhile."""

    def rate(self, total: int) -> float:
        """Messages per second from the first sample with progress to the last one."""
        first = next((s for s in self.samples if s[1] > 0), None)
        last = self.samples[-1] if self.samples else None
        if first is None or last is None or last[0] <= first[0]:
            return float("nan")
        return (last[1] - first[1]) / (last[0] - first[0])


def tracking_number(index: int) -> str:
    return f"RB{index:09d}"


def order_event(index: int) -> orders.OrderPlaced:
    example = orders.TOPIC.decode(
        (orders.TOPIC.examples_dir() / "OrderPlaced-home-colissimo.json").read_bytes()
    )
    assert isinstance(example, orders.OrderPlaced)
    order_id = f"BENCH-{index:07d}"
    parcel = example.parcels[0].model_copy(
        update={
            "shipment_id": f"{order_id}-1",
            "carrier": "generic",
            "tracking_number": tracking_number(index),
        }
    )
    return example.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "merchant_id": MERCHANT,
            "order_id": order_id,
            "correlation_id": order_id,
            "parcels": (parcel,),
        }
    )


def carrier_update(sequence: int, *, shipments: int) -> CarrierUpdateReceived:
    """Update `sequence`: one new event for shipment `sequence % shipments`."""
    shipment, step = sequence % shipments, sequence // shipments
    substatus, code = STEPS[step % len(STEPS)]
    occurred_at = T0 + timedelta(minutes=17 * step)
    payload = {
        "tracking_number": tracking_number(shipment),
        "events": [
            {
                "occurred_at": occurred_at.isoformat(),
                "substatus": substatus,
                "carrier_code": f"{code}{step}",
                "description": f"Scan {step} of parcel {shipment}",
                "location": {"city": "Lyon", "postal_code": "69003", "country": "FR"},
            }
        ],
    }
    return CarrierUpdateReceived(
        occurred_at=occurred_at,
        merchant_id="unknown",
        correlation_id=f"generic:{tracking_number(shipment)}",
        carrier="generic",
        source=UpdateSource.WEBHOOK,
        received_at=occurred_at,
        content_type="application/json",
        payload=json.dumps(payload),
        tracking_number=tracking_number(shipment),
        endpoint="/webhooks/carriers/generic",
    )


async def produce(
    producer: AIOKafkaProducer, *, topic: str, events: list[Any], progress: Callable[[int], None]
) -> None:
    """Send without waiting per message; Kafka's acks are awaited in chunks."""
    pending = []
    for index, event in enumerate(events, start=1):
        pending.append(
            await producer.send(
                topic,
                value=encode_event(event),
                key=event.partition_key(),
                headers=event_headers(event),
            )
        )
        if len(pending) >= 5000 or index == len(events):
            await asyncio.gather(*pending)
            pending.clear()
            progress(index)


async def raw_consume(
    *, bootstrap: str, topic: str, group: str, total: int, batch: int
) -> Timeline:
    """Read the messages as the tracker's batch consumer does, and do nothing else."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
    )
    await consumer.start()
    timeline, seen, started = Timeline(), 0, time.perf_counter()
    try:
        while seen < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=batch)
            if not batches:
                continue
            if not timeline.samples:
                timeline.samples.append((time.perf_counter() - started, 0))
            seen += sum(len(batch) for batch in batches.values())
            timeline.samples.append((time.perf_counter() - started, seen))
    finally:
        await consumer.stop()
    return timeline


async def watch(
    *,
    database_url: str,
    schema: str,
    sql: str,
    total: int,
    progress: Callable[[int], None],
    timeout_s: float,
    args: tuple[Any, ...] = (),
    at_first_progress: Callable[[], Awaitable[None]] | None = None,
) -> Timeline:
    """Sample a count every 200 ms until it reaches `total` (each sample is a count over
    a growing table: sampling faster would take PostgreSQL's CPU from the tracker);
    `at_first_progress` runs once, at the first sample above zero (where rates start)."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    timeline, started = Timeline(), time.perf_counter()
    try:
        while time.perf_counter() - started < timeout_s:
            done: int = await connection.fetchval(sql, *args)
            if done and at_first_progress is not None:
                await at_first_progress()
                at_first_progress = None
            timeline.samples.append((time.perf_counter() - started, done))
            progress(done)
            if done >= total:
                break
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
    return timeline


async def drained(*, database_url: str, schema: str, timeout_s: float) -> float:
    """Seconds until no outbox row waits to be published."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < timeout_s:
            if not await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    return time.perf_counter() - started


@dataclass
class Bench:
    settings: TrackerSettings
    schema: str
    topics: dict[str, str]
    events: int
    shipments: int
    batch: int
    processes: int = 1

    @property
    def floor_topic(self) -> str:
        """The floor's output topic: the bench topics' prefix, then `floor`."""
        return self.updates_topic.removesuffix(carrier_updates.TOPIC.name) + "floor"

    @property
    def updates_topic(self) -> str:
        return self.topics[carrier_updates.TOPIC.name]

    def service(self) -> RunningService[Any]:
        return RunningService(replace(build_spec(), schema=self.schema), self.settings)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def set_up(bench: Bench) -> None:
    """Not measured: the orders (so that every update matches a known shipment), then,
    with the tracker stopped, the carrier updates waiting on their topic."""
    producer = make_producer(bench.settings, client_id="relais-bench")
    await producer.start()
    try:
        with progress_bar() as bar:
            service = bench.service()
            await service.start()
            try:
                task = bar.add_task("orders placed (set-up)", total=bench.shipments)
                await produce(
                    producer,
                    topic=bench.topics[orders.TOPIC.name],
                    events=[order_event(i) for i in range(bench.shipments)],
                    progress=lambda done: None,
                )
                await watch(
                    database_url=bench.settings.database_url,
                    schema=bench.schema,
                    sql="SELECT count(*) FROM shipments",
                    total=bench.shipments,
                    progress=lambda done: bar.update(task, completed=done),
                    timeout_s=600,
                )
            finally:
                await service.stop()
            task = bar.add_task("carrier updates produced", total=bench.events)
            await produce(
                producer,
                topic=bench.updates_topic,
                events=[carrier_update(i, shipments=bench.shipments) for i in range(bench.events)],
                progress=lambda done: bar.update(task, completed=done),
            )
    finally:
        await producer.stop()


async def measure(bench: Bench) -> Outcome:
    settings = bench.settings
    with progress_bar() as bar:
        task = bar.add_task("raw aiokafka consume", total=bench.events)
        raw = await raw_consume(
            bootstrap=settings.kafka_bootstrap,
            topic=bench.updates_topic,
            group=f"{settings.consumer_group_prefix}raw",
            total=bench.events,
            batch=bench.batch,
        )
        bar.update(task, completed=bench.events)
        task = bar.add_task("floor: consume + COPY + produce", total=bench.events)
        floor = await run_floor(
            settings,
            source=bench.updates_topic,
            sink=bench.floor_topic,
            schema=bench.schema,
            total=bench.events,
            batch=bench.batch,
            progress=lambda done: bar.update(task, completed=done),
        )
        async with running_trackers(bench) as (pids, peaks):
            task = bar.add_task("tracker: persisted + published", total=bench.events)
            meter = CpuMeter(pids, settings.database_url, f"relais-{bench.schema}")
            tracker = await watch(
                database_url=settings.database_url,
                schema=bench.schema,
                sql="SELECT count(*) FROM outbox WHERE topic = $1 AND published_at IS NOT NULL",
                args=(bench.topics[tracking_events.TOPIC.name],),
                total=bench.events,
                progress=lambda done: bar.update(task, completed=done),
                timeout_s=1800,
                at_first_progress=meter.start,
            )
            tracker.cpu_s, tracker.database_cpu_s = await meter.used()
            task = bar.add_task("tracker: outbox drained", total=None)
            published = await drained(
                database_url=settings.database_url, schema=bench.schema, timeout_s=600
            )
            bar.update(task, total=1, completed=1)
    on_topics = {
        name: await topic_size(settings.kafka_bootstrap, bench.topics[name])
        for name in (tracking_events.TOPIC.name, shipment_state.TOPIC.name)
    }
    return Outcome(raw, floor, tracker, published, on_topics, os.getloadavg(), peaks)


@dataclass
class CpuMeter:
    """CPU seconds of the tracker processes and of their PostgreSQL backends, from
    `start` (the first event done, where the rate starts) to `used`: start-up, imports
    and the group join are not counted."""

    pids: list[int]
    database_url: str
    application: str
    """The tracker pools' application_name: how their backends are found."""
    started: tuple[float, float] = (0.0, 0.0)

    async def read(self) -> tuple[float, float]:
        return processes_cpu_s(self.pids), await database_cpu_s(self.database_url, self.application)

    async def start(self) -> None:
        self.started = await self.read()

    async def used(self) -> tuple[float, float]:
        process, database = await self.read()
        return process - self.started[0], database - self.started[1]


@asynccontextmanager
async def running_trackers(
    bench: Bench,
) -> AsyncIterator[tuple[list[int], dict[str, float | None]]]:
    """`processes` tracker processes in one consumer group (the partitions are shared
    among them, as replicas would share them), each on its own, so that its CPU and its
    peak RSS are its own. Yields their pids and their peak RSS, filled in just before
    they stop."""
    peaks: dict[str, float | None] = {}
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    children = [
        context.Process(
            target=tracker_process,
            args=(
                bench.settings.model_copy(update={"http_port": free_port()}).model_dump_json(),
                bench.schema,
                stop,
            ),
            daemon=True,
        )
        for _ in range(bench.processes)
    ]
    for child in children:
        child.start()
    try:
        yield [child.pid for child in children if child.pid is not None], peaks
    finally:
        for number, child in enumerate(children, start=1):
            peaks[f"tracker process {number}"] = (
                None if child.pid is None else peak_rss_mb(child.pid)
            )
        stop.set()
        for child in children:
            await asyncio.to_thread(child.join, 60)


def tracker_process(settings_json: str, schema: str, stop: Any) -> None:
    """A tracker replica in its own process (spawned), until `stop` is set."""
    settings = TrackerSettings.model_validate_json(settings_json)
    configure_logging(service="tracker-bench", level="warning", fmt="console")

    async def serve() -> None:
        service = RunningService(replace(build_spec(), schema=schema), settings)
        await service.start()
        freeze_start_up_heap()
        try:
            await asyncio.to_thread(stop.wait)
        finally:
            await service.stop()

    run_event_loop(serve())


async def topic_size(bootstrap: str, topic: str) -> int:
    """Messages on the topic (sum of its partitions' end offsets; fresh topics start at 0)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, partition)
            for partition in consumer.partitions_for_topic(topic) or ()
        ] or [TopicPartition(topic, p) for p in range(6)]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return sum(ends.values())


@dataclass
class Outcome:
    raw: Timeline
    floor: FloorRun
    tracker: Timeline
    drain_s: float
    on_topics: dict[str, int]
    load: tuple[float, float, float]
    peaks: dict[str, float | None] = field(default_factory=dict)
    """Peak RSS (MB) of each tracker process."""


def per_event_us(seconds: float | None, events: int) -> str:
    return "n/a" if not seconds else f"{seconds / events * 1e6:,.0f}"


def verdict(value: float, target: float) -> str:
    return "[green]met[/green]" if value >= target else "[red]missed[/red]"


def report(bench: Bench, outcome: Outcome) -> None:
    events, tracker, floor = bench.events, outcome.tracker, outcome.floor
    raw_rate = outcome.raw.rate(events)
    floor_rate = Timeline(floor.samples).rate(events)
    tracker_rate = tracker.rate(events)
    table = Table(title=f"relais bench tracker: {events:,} carrier updates")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row(
        "shipments / batch size / tracker processes",
        f"{bench.shipments:,} / {bench.batch} / {bench.processes}",
        "",
    )
    table.add_row("raw aiokafka consume (msg/s)", f"{raw_rate:,.0f}", "")
    table.add_row("floor: consume + COPY + produce (events/s)", f"{floor_rate:,.0f}", "")
    table.add_row(
        "tracker persisted + published (events/s)",
        f"{tracker_rate:,.0f}",
        f">= {TARGET_EVENTS_PER_S:,} {verdict(tracker_rate, TARGET_EVENTS_PER_S)}",
    )
    table.add_row(
        "ratio tracker / floor",
        f"{tracker_rate / floor_rate:.2f}",
        f">= {TARGET_FLOOR_RATIO} {verdict(tracker_rate / floor_rate, TARGET_FLOOR_RATIO)}",
    )
    table.add_row(
        "process CPU per event, floor / tracker (µs; all tracker processes)",
        f"{per_event_us(floor.process_cpu_s, events)} / {per_event_us(tracker.cpu_s, events)}",
        "",
    )
    table.add_row(
        "PostgreSQL CPU per event, floor / tracker (µs)",
        f"{per_event_us(floor.database_cpu_s, events)} / "
        f"{per_event_us(tracker.database_cpu_s, events)}",
        "",
    )
    table.add_row("outbox drained after the last event published (s)", f"{outcome.drain_s:.1f}", "")
    for name, count in outcome.on_topics.items():
        table.add_row(f"messages on {name}", f"{count:,}", "")
    table.add_row(
        "load average (1, 5, 15 min) at the end", ", ".join(f"{v:.2f}" for v in outcome.load), ""
    )
    console.print(table)
    console.print(memory_table(outcome.peaks, title="peak RSS per tracker process"))
    if outcome.on_topics.get(tracking_events.TOPIC.name, 0) < events:
        console.print("[red]fewer tracking events on the topic than carrier updates sent[/red]")


def throughput(timeline: Timeline, *, window_s: float = 0.5) -> tuple[list[float], list[float]]:
    """(time, messages per second over the last `window_s`) from cumulative samples."""
    times, rates = [], []
    last_t, last_n = None, 0
    for t, n in timeline.samples:
        if last_t is None:
            last_t, last_n = t, n
            continue
        if t - last_t >= window_s:
            times.append(t)
            rates.append((n - last_n) / (t - last_t))
            last_t, last_n = t, n
    return times, rates


def plot(path: Path, raw: Timeline, floor: Timeline, tracker: Timeline) -> None:
    plt = pyplot()
    figure, (done, rate) = plt.subplots(2, 1, figsize=(8, 7))
    for name, timeline in (
        ("raw aiokafka consume", raw),
        ("floor: consume + COPY + produce", floor),
        ("tracker persisted + published", tracker),
    ):
        done.plot([s[0] for s in timeline.samples], [s[1] for s in timeline.samples], label=name)
        times, rates = throughput(timeline, window_s=0.05 if timeline is raw else 2.0)
        rate.plot(times, rates, label=name)
    done.set_ylabel("messages / events done")
    done.set_title("relais bench tracker")
    done.legend()
    rate.set_xlabel("seconds since the path started")
    rate.set_ylabel("per second")
    rate.set_yscale("log")
    rate.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    console.print(f"plot written to {path}")


async def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 6, 1) for name in names])
    finally:
        await admin.close()


async def clean_up(bench: Bench) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bench.settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([*bench.topics.values(), bench.floor_topic])
    finally:
        await admin.close()
    await drop_schema(bench.settings.database_url, bench.schema)


async def run_tracker_bench(
    *,
    events: int,
    shipments: int,
    batch: int,
    processes: int = 1,
    plot_path: Path | None,
    keep: bool,
) -> None:
    unique = uuid.uuid4().hex[:8]
    base = load_settings(TrackerSettings)
    configure_logging(service="tracker-bench", level="warning", fmt="console")
    topics = {
        topic.name: f"relais.bench.{unique}.{topic.name}"
        for topic in (
            orders.TOPIC,
            carrier_updates.TOPIC,
            tracking_events.TOPIC,
            shipment_state.TOPIC,
        )
    }
    settings = base.model_copy(
        update={
            "http_port": free_port(),
            "consumer_group_prefix": f"bench-{unique}.",
            "topic_overrides": topics,
            "carrier_batch_max": batch,
            "log_level": "warning",
            "merchants_dir": None,
        }
    )
    bench = Bench(
        settings=settings,
        schema=f"bench_{unique}",
        topics=topics,
        events=events,
        shipments=shipments,
        batch=batch,
        processes=processes,
    )
    await create_topics(settings.kafka_bootstrap, [*topics.values(), bench.floor_topic])
    try:
        await set_up(bench)
        outcome = await measure(bench)
        report(bench, outcome)
        if plot_path is not None:
            plot(plot_path, outcome.raw, Timeline(outcome.floor.samples), outcome.tracker)
    finally:
        if not keep:
            await clean_up(bench)


def tracker(
    events: Annotated[int, typer.Option(min=100, help="Carrier updates to push.")] = 20_000,
    shipments: Annotated[
        int | None, typer.Option(min=1, help="Shipments they spread over (default events/5).")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Updates per tracker transaction.")] = 1000,
    processes: Annotated[
        int, typer.Option(min=1, max=6, help="Tracker processes sharing the partitions.")
    ] = 1,
    plot_path: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG of both curves here.")
    ] = Path("artifacts/bench-tracker.png"),
    keep: Annotated[bool, typer.Option(help="Keep the bench topics and schema.")] = False,
) -> None:
    """Carrier updates through the real broker into the tracker: events/s, vs raw consume.

    Needs Kafka and PostgreSQL (`relais infra up`); configuration from RELAIS_* variables.
    """
    run_bench(
        "tracker",
        run_tracker_bench(
            events=events,
            shipments=shipments or max(1, events // 5),
            batch=batch,
            processes=processes,
            plot_path=plot_path,
            keep=keep,
        ),
    )
