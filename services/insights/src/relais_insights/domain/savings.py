"""Contacts avoided and money saved, from a stated model (merchant section `insights`).

contacts avoided = anomalies the customer was told about x anomaly_contact_rate
                 + tracking page views x wismo_contact_rate
money saved      = contacts avoided x cost per contact
Both are estimates: the dashboard and the API always show the assumptions beside them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from relais_runtime.merchants.insights import InsightsSection


class Savings(BaseModel):
    model_config = ConfigDict(frozen=True)

    anomalies_told: int
    tracking_page_views: int
    contacts_avoided_from_anomalies: float
    contacts_avoided_from_wismo: float
    contacts_avoided: float
    money_saved: Decimal
    currency: str
    cost_per_contact: Decimal
    anomaly_contact_rate: float
    wismo_contact_rate: float


def savings(*, model: InsightsSection, anomalies_told: int, tracking_page_views: int) -> Savings:
    from_anomalies = round(anomalies_told * model.anomaly_contact_rate, 2)
    from_wismo = round(tracking_page_views * model.wismo_contact_rate, 2)
    avoided = round(from_anomalies + from_wismo, 2)
    cost = model.cost_per_contact.amount
    money = (Decimal(str(avoided)) * cost).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Savings(
        anomalies_told=anomalies_told,
        tracking_page_views=tracking_page_views,
        contacts_avoided_from_anomalies=from_anomalies,
        contacts_avoided_from_wismo=from_wismo,
        contacts_avoided=avoided,
        money_saved=money,
        currency=model.cost_per_contact.currency,
        cost_per_contact=cost,
        anomaly_contact_rate=model.anomaly_contact_rate,
        wismo_contact_rate=model.wismo_contact_rate,
    )
