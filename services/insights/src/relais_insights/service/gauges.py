"""The headline Prometheus gauges of every merchant, recomputed every `metrics_refresh_s`.

Rules: a supervised loop (relais_runtime.supervisor, relais_runtime.passes): each round
beats; a merchant whose report fails for its own reason is logged (merchant and
exception type) and skipped until the next round, the others are refreshed; a
transient failure (database unavailable) ends the round, which is tried again after a
capped backoff (at most one refresh interval); anything else goes to the supervisor.
A figure that cannot be computed (no parcel yet) is NaN, never 0.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg

from relais_insights.domain.kpis import Report
from relais_insights.domain.period import parse_period, today_in
from relais_insights.service import review_queue
from relais_insights.service.configuration import InsightsConfiguration
from relais_insights.service.reports import build_report
from relais_runtime import metrics
from relais_runtime.failures import is_transient
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig
from relais_runtime.passes import run_passes

log = get_logger(__name__)

LOOP = "insights-metrics-refresh"


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


@dataclass(frozen=True)
class HeadlineGauges:
    pool: asyncpg.Pool
    configuration: InsightsConfiguration

    async def refresh(self, stopping: asyncio.Event) -> None:
        await run_passes(
            loop=LOOP,
            stop=stopping,
            one_pass=self.one_round,
            idle_s=self.configuration.metrics_refresh_s,
        )

    async def one_round(self) -> bool:
        for merchant in self.configuration.merchants.values():
            await self.refresh_merchant(merchant)
        return False

    async def refresh_merchant(self, merchant: MerchantConfig) -> None:
        try:
            period = parse_period(
                start=None,
                end=None,
                today=today_in(merchant.time_zone, self.configuration.clock.now()),
                time_zone=merchant.time_zone,
                default_days=self.configuration.metrics_window_days,
            )
            async with self.pool.acquire() as connection:
                report = await build_report(connection, merchant=merchant, period=period)
                await review_queue.refresh_gauges(
                    connection, merchant, self.configuration.clock.now()
                )
            publish_headline(report)
        except Exception as error:
            if is_transient(error):
                raise
            log.warning(
                "insights gauges not refreshed",
                merchant=merchant.merchant_id,
                error=type(error).__name__,
            )


def metrics_refresher(
    *, pool: asyncpg.Pool, configuration: InsightsConfiguration
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """The loop body the supervisor runs until `stopping` is set."""
    return HeadlineGauges(pool=pool, configuration=configuration).refresh
