"""The insights consumers (one per topic of the flow) and its HTTP routes and gauges.

Rules:
- every consumed event leaves at most one fact (domain.facts), written in the
  consumer's transaction with the claim of its event id: at-least-once delivery,
  exactly-once facts;
- the shipment state (compacted) keeps the newest snapshot per shipment; its
  tombstone erases the snapshot and the survey comments of that shipment;
- rebuilding: an empty schema and new consumer groups replay every topic from the
  start (`relais insights rebuild`); the groups are `insights.<topic>` under the
  runtime's RELAIS_CONSUMER_GROUP_PREFIX.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.registry import Topic
from relais_contracts.topics import (
    action_commands,
    action_results,
    anomalies,
    conversations,
    notifications,
    orders,
    shipment_state,
    tracking_events,
)
from relais_insights import repository
from relais_insights.api import build_router, today_for
from relais_insights.configuration import InsightsConfiguration, load_configuration
from relais_insights.domain.facts import fact_of, shipment_fact
from relais_insights.domain.kpis import Report
from relais_insights.domain.period import parse_period
from relais_insights.reports import build_report
from relais_insights.settings import InsightsSettings
from relais_runtime import metrics
from relais_runtime.consumer import MessageContext, Subscription
from relais_runtime.failures import is_transient
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig
from relais_runtime.passes import run_passes
from relais_runtime.service import Dependencies, Wiring
from relais_runtime.supervisor import Loop

log = get_logger(__name__)

FACT_TOPICS: tuple[Topic, ...] = (
    orders.TOPIC,
    tracking_events.TOPIC,
    anomalies.TOPIC,
    notifications.TOPIC,
    conversations.TOPIC,
    action_commands.TOPIC,
    action_results.TOPIC,
)


def group_of(topic: Topic) -> str:
    """`insights.orders` for relais.orders.v1."""
    return "insights." + topic.name.removeprefix("relais.").rsplit(".v", 1)[0]


async def on_fact(event: Event, context: MessageContext) -> None:
    fact = fact_of(event)
    if fact is not None:
        await repository.create_fact(context.connection, merchant_id=event.merchant_id, fact=fact)
        metrics.INSIGHTS_FACTS.labels(kind=fact.kind).inc()


async def on_shipment_state(event: Event, context: MessageContext) -> None:
    if isinstance(event, shipment_state.ShipmentStateChanged):
        await repository.update_shipment(
            context.connection, merchant_id=event.merchant_id, shipment=shipment_fact(event)
        )


async def on_shipment_erased(key: bytes, context: MessageContext) -> None:
    merchant_id, shipment_id = split_partition_key(key)
    await repository.delete_shipment(
        context.connection, merchant_id=merchant_id, shipment_id=shipment_id
    )


TopicMap = Callable[[Topic], Topic]


def same_topic(topic: Topic) -> Topic:
    return topic


def subscriptions(topic_map: TopicMap = same_topic) -> tuple[Subscription, ...]:
    """One consumer group per topic; `topic_map` lets a test read its own copies."""
    return (
        Subscription(
            topic_map(shipment_state.TOPIC),
            group_of(shipment_state.TOPIC),
            on_shipment_state,
            on_tombstone=on_shipment_erased,
        ),
        *(Subscription(topic_map(topic), group_of(topic), on_fact) for topic in FACT_TOPICS),
    )


def _gauge(value: float | None) -> float:
    return math.nan if value is None else value


def publish_headline(report: Report) -> None:
    merchant, headline = report.merchant_id, report.headline
    metrics.INSIGHTS_ANOMALY_SHARE.labels(merchant=merchant).set(_gauge(headline.anomaly_share))
    metrics.INSIGHTS_TOLD_SHARE.labels(merchant=merchant).set(_gauge(headline.told_share))
    metrics.INSIGHTS_CSAT_AVERAGE.labels(merchant=merchant).set(_gauge(headline.csat_average))
    metrics.INSIGHTS_VIEWS_PER_ORDER.labels(merchant=merchant).set(_gauge(headline.views_per_order))
    metrics.INSIGHTS_CONTACTS_AVOIDED.labels(merchant=merchant).set(headline.contacts_avoided)
    metrics.INSIGHTS_MONEY_SAVED.labels(merchant=merchant, currency=headline.currency).set(
        float(headline.money_saved)
    )


def metrics_refresher(
    *, pool: asyncpg.Pool, configuration: InsightsConfiguration, settings: InsightsSettings
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """Recompute every merchant's headline gauges every `metrics_refresh_s`.

    A supervised loop (relais_runtime.supervisor, relais_runtime.passes): each round
    beats; a merchant whose report fails for its own reason is logged (merchant and
    exception type) and skipped until the next round, the others are refreshed; a
    transient failure (database unavailable) ends the round, which is tried again
    after a capped backoff (at most one refresh interval); anything else goes to the
    supervisor."""

    async def one_round() -> bool:
        for merchant in configuration.merchants.values():
            await refresh_merchant(merchant)
        return False

    async def refresh(stopping: asyncio.Event) -> None:
        await run_passes(
            loop="insights-metrics-refresh",
            stop=stopping,
            one_pass=one_round,
            idle_s=settings.metrics_refresh_s,
        )

    async def refresh_merchant(merchant: MerchantConfig) -> None:
        try:
            period = parse_period(
                start=None,
                end=None,
                today=today_for(merchant, configuration),
                time_zone=merchant.time_zone,
                default_days=settings.metrics_window_days,
            )
            async with pool.acquire() as connection:
                report = await build_report(connection, merchant=merchant, period=period)
            publish_headline(report)
        except Exception as error:
            if is_transient(error):
                raise
            log.warning(
                "insights gauges not refreshed",
                merchant=merchant.merchant_id,
                error=type(error).__name__,
            )

    return refresh


def wire(
    dependencies: Dependencies[InsightsSettings], *, topic_map: TopicMap = same_topic
) -> Wiring:
    settings = dependencies.settings
    configuration = load_configuration(settings)
    return Wiring(
        subscriptions=subscriptions(topic_map),
        routers=(build_router(pool=dependencies.pool, configuration=configuration),),
        background=(
            Loop(
                "insights-metrics-refresh",
                metrics_refresher(
                    pool=dependencies.pool, configuration=configuration, settings=settings
                ),
                heartbeat_s=max(120.0, 4 * settings.metrics_refresh_s),
            ),
        ),
    )
