"""Insights: the model that turns what Relais did into contacts avoided and money saved.

Rules:
- every figure of the model is an assumption the merchant can see (dashboard, API)
  and override here; the defaults come from the sources the project started from:
  a customer-service contact costs 1.30 to 2.50 EUR (1.90 EUR, the middle), "where is
  my order?" questions are 30 to 60 % of inbound contacts and good proactive
  communication cuts inbound contacts by up to 40 %;
- `anomaly_contact_rate`: the share of anomalies the customer was told about that
  would otherwise have become a contact (default 0.40);
- `wismo_contact_rate`: the share of tracking page views that would otherwise have
  been a "where is my order?" contact (default 0.30, the low end of 30-60 %);
- the cost is in the merchant's currency; the model never converts currencies.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from relais_runtime.merchants.base import Section


class ContactCost(Section):
    amount: Decimal = Field(default=Decimal("1.90"), ge=0, le=1000, decimal_places=4)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


class InsightsSection(Section):
    cost_per_contact: ContactCost = ContactCost()
    anomaly_contact_rate: float = Field(default=0.40, ge=0, le=1)
    wismo_contact_rate: float = Field(default=0.30, ge=0, le=1)
