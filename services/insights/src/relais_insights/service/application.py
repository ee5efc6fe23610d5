"""What the HTTP routes call: the merchants, their keys and sessions, and their reports.

Rule: every read is scoped by the one merchant the key or the session belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import asyncpg

from relais_insights.domain.kpis import Report
from relais_insights.domain.period import Period, today_in
from relais_insights.service.configuration import InsightsConfiguration
from relais_insights.service.office_users import OfficeService
from relais_insights.service.reports import build_report
from relais_insights.service.sessions import DashboardSessions
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.tracking import ApiScope


@dataclass(frozen=True)
class Insights:
    configuration: InsightsConfiguration
    pool: asyncpg.Pool

    @property
    def sessions(self) -> DashboardSessions:
        return self.configuration.sessions

    @cached_property
    def office(self) -> OfficeService:
        return OfficeService(pool=self.pool, policy=self.configuration.office)

    def merchant(self, merchant_id: str) -> MerchantConfig | None:
        return self.configuration.merchants.get(merchant_id)

    def owner_of_header(self, authorization: str | None) -> str | None:
        """The merchant of an `Authorization: Bearer <key>` header, None if absent or unknown."""
        return self.configuration.keys.merchant_of_header(authorization)

    def key_has_scope(self, authorization: str | None, scope: ApiScope) -> bool:
        holder = self.configuration.keys.holder_of_header(authorization)
        return holder is not None and scope in holder.scopes

    def owner_of_key(self, key: str) -> str | None:
        return self.configuration.keys.merchant_of(key.strip())

    def today(self, merchant: MerchantConfig) -> date:
        return today_in(merchant.time_zone, self.configuration.clock.now())

    async def report(self, merchant: MerchantConfig, period: Period) -> Report:
        async with self.pool.acquire() as connection:
            return await build_report(connection, merchant=merchant, period=period)
