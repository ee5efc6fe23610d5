"""The whole stack for the erasure proof: the journey's five services (tests/e2e/journey)
plus insights, in this process, on the real broker, PostgreSQL and SMTP catcher.

Rules:
- everything the journey stack promises holds (one clock ten years ahead, merchants of
  this run only, the tracker's inputs on topics of this run, schemas dropped after);
- insights reads the same private copies of the tracker's inputs as the tracker (its
  `topic_map`), so it sees this run's orders;
- `scan` reads every text, varchar, json, jsonb, array and bytea column of every table
  of the six schemas and reports where one of the given strings appears (case
  insensitive; bytes are read with their ASCII characters as text, so the needles are
  ASCII), so a test can prove a customer is gone without listing the tables.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from relais_cli.infra.settings import InfraSettings
from relais_contracts.registry import Topic
from relais_insights import bootstrap as insights_bootstrap
from relais_insights.handlers.consumers import TopicMap
from relais_insights.settings import InsightsSettings
from relais_runtime.clock import ScaledClock, clock_from_spec
from relais_runtime.service import RunningService, ServiceSpec
from relais_runtime.settings import RuntimeSettings
from tests.conftest import Infrastructure, drop_schemas, free_port
from tests.e2e.journey.merchant import MerchantSystems
from tests.e2e.journey.stack import (
    PRIVATE,
    SERVICES,
    Inbox,
    Stack,
    TopicTap,
    create_topics,
    delete_topics,
    journey_clock_spec,
    service_settings,
    specs,
    write_merchants,
)

ALL_SERVICES = (*SERVICES, "insights")
SCANNED_TYPES = ("text", "character varying", "json", "jsonb", "ARRAY", "bytea")


@dataclass(frozen=True)
class Found:
    schema: str
    table: str
    column: str
    needle: str
    rows: int

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}: {self.needle!r} in {self.rows} row(s)"


@dataclass
class ErasureStack(Stack):
    tracker_topics: dict[str, str] | None = None
    merchants_dir: Path | None = None

    async def scan(self, needles: Iterable[str]) -> list[Found]:
        """Where any needle appears in any service's tables."""
        wanted = [needle.lower() for needle in needles]
        connection = await asyncpg.connect(self.database_url)
        try:
            columns = await connection.fetch(
                "SELECT table_schema, table_name, column_name, data_type"
                " FROM information_schema.columns c"
                " JOIN information_schema.tables t USING (table_schema, table_name)"
                " WHERE table_schema = ANY($1::text[]) AND t.table_type = 'BASE TABLE'"
                " AND data_type = ANY($2::text[]) ORDER BY 1, 2, 3",
                list(self.schemas.values()),
                list(SCANNED_TYPES),
            )
            found: list[Found] = []
            for column in columns:
                found += await _scan_column(connection, column, wanted)
            return found
        finally:
            await connection.close()


async def _scan_column(
    connection: asyncpg.Connection, column: asyncpg.Record, needles: list[str]
) -> list[Found]:
    schema, table, name = column["table_schema"], column["table_name"], column["column_name"]
    text = (
        f"lower(encode(\"{name}\", 'escape'))"
        if column["data_type"] == "bytea"
        else f'lower("{name}"::text)'
    )
    found = []
    for needle in needles:
        rows = await connection.fetchval(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE position($1 in {text}) > 0',  # noqa: S608
            needle,
        )
        if rows:
            found.append(Found(schema, table, name, needle, rows))
    return found


def insights_settings(
    *, infrastructure: Infrastructure, run: str, clock: str, merchants_dir: Path, url: str
) -> InsightsSettings:
    """The journey's common settings (tests.e2e.journey.stack.service_settings), for insights."""
    return InsightsSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        consumer_group_prefix=f"e2e-{run}.",
        consumer_new_groups_start="now",
        merchants_dir=merchants_dir,
        outbox_poll_interval_s=0.1,
        clock=clock,
        http_port=int(url.rsplit(":", 1)[1]),
        session_secrets=["test-only-erasure-session-secret-" + secrets.token_urlsafe(16)],
    )


@asynccontextmanager
async def running_erasure_stack(
    *,
    infrastructure: Infrastructure,
    run: str,
    directory: Path,
    merchant_systems: MerchantSystems,
) -> AsyncIterator[ErasureStack]:
    """Start the six services (consumers before producers), yield, stop, drop schemas."""
    clock_spec = journey_clock_spec(real_now=datetime.now(UTC))
    clock = clock_from_spec(clock_spec)
    assert isinstance(clock, ScaledClock)
    merchants_dir = directory / "merchants"
    merchants = write_merchants(target=merchants_dir, run=run, webhook_url=merchant_systems.url)
    merchant_systems.secrets.update({m.merchant_id: m.webhook_secret for m in merchants.values()})
    carrier_secret = secrets.token_urlsafe(32)
    (directory / "carrier.secret").write_text(carrier_secret)
    tracker_topics = {topic.name: f"e2e-{run}.{topic.name}" for topic in PRIVATE}
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in ALL_SERVICES}
    schemas = {name: f"e2e_{run}_{name}" for name in ALL_SERVICES}
    settings = service_settings(
        infrastructure=infrastructure,
        run=run,
        clock=clock_spec,
        merchants_dir=merchants_dir,
        urls={name: urls[name] for name in SERVICES},
        carrier_secret_file=directory / "carrier.secret",
        link_secret="test-only-erasure-link-secret-" + secrets.token_urlsafe(16),
        tracker_topics=tracker_topics,
    )
    settings["insights"] = insights_settings(
        infrastructure=infrastructure,
        run=run,
        clock=clock_spec,
        merchants_dir=merchants_dir,
        url=urls["insights"],
    )
    tap = TopicTap(bootstrap=infrastructure.kafka_bootstrap, run=run)
    started: list[RunningService[Any]] = []
    async with httpx.AsyncClient() as http:
        try:
            await create_topics(infrastructure.kafka_bootstrap, tracker_topics)
            await tap.start()
            await _start(started, _specs(settings, http, tracker_topics), settings, schemas)
            yield ErasureStack(
                run=run,
                clock=clock,
                urls=urls,
                schemas=schemas,
                merchants=merchants,
                merchant_systems=merchant_systems,
                carrier_secret=carrier_secret,
                inbox=Inbox(InfraSettings().paths.mail_dir),
                tap=tap,
                database_url=infrastructure.database_url,
                tracker_topics=tracker_topics,
                merchants_dir=merchants_dir,
            )
        finally:
            for service in reversed(started):
                await service.stop()
            await tap.stop()
            await drop_schemas(infrastructure.database_url, schemas.values())
            await delete_topics(infrastructure.kafka_bootstrap, tracker_topics.values())


def _specs(
    settings: dict[str, RuntimeSettings], http: httpx.AsyncClient, tracker_topics: dict[str, str]
) -> dict[str, ServiceSpec[Any]]:
    """The journey's specs, and insights reading the tracker's private input topics."""
    insights = replace(
        insights_bootstrap.build_spec(),
        wire=partial(insights_bootstrap.wire, topic_map=_renamed(tracker_topics)),
    )
    return {**specs(settings=settings, http=http), "insights": insights}


async def _start(
    started: list[RunningService[Any]],
    all_specs: dict[str, ServiceSpec[Any]],
    settings: dict[str, RuntimeSettings],
    schemas: dict[str, str],
) -> None:
    """Consumers before producers: insights, then the journey's in reverse order."""
    for name in ("insights", *reversed(SERVICES)):
        service = RunningService(replace(all_specs[name], schema=schemas[name]), settings[name])
        await service.start()
        started.append(service)


def _renamed(names: dict[str, str]) -> TopicMap:
    def topic_map(topic: Topic) -> Topic:
        return replace(topic, name=names[topic.name]) if topic.name in names else topic

    return topic_map
