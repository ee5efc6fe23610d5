"""Load one merchant's facts for a period and compute its report (repository + domain)."""

from __future__ import annotations

from datetime import timedelta

from relais_insights import repository
from relais_insights.domain.kpis import REPORT_KINDS, Report, compute_report
from relais_insights.domain.period import Period
from relais_runtime.db import DbConnection
from relais_runtime.merchants import MerchantConfig

LOOKBACK = timedelta(days=1)
"""Facts a little before the period (an anomaly's zone-shifted day edge)."""


async def build_report(
    connection: DbConnection, *, merchant: MerchantConfig, period: Period
) -> Report:
    since = period.starts_at() - LOOKBACK
    facts = await repository.list_facts(
        connection, merchant_id=merchant.merchant_id, since=since, kinds=REPORT_KINDS
    )
    shipments = await repository.list_shipments(
        connection,
        merchant_id=merchant.merchant_id,
        since=since,
        shipment_ids=sorted({fact.shipment_id for fact in facts}),
    )
    return compute_report(
        merchant_id=merchant.merchant_id,
        facts=facts,
        shipments=shipments,
        period=period,
        model=merchant.insights,
    )
