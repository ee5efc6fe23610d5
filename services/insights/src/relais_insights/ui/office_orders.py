"""The back office's orders pages: the filtered list and one page per order.

Rules: rendered on the server inside the office frame (templates/office/base.html),
usable without JavaScript (the filters are a GET form, pages are links); times are
shown in the merchant's time zone, words in the page's language (fr/en); a timeline
entry is described from its kind and detail in that language, its stored (English)
summary being the fallback for a kind or detail this page does not know. A sent
message's page shows the notifier's copy: an email inside a sandboxed iframe (srcdoc,
escaped by autoescape; no allow-* token, so no script, form or navigation runs), an SMS
as text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from relais_contracts.catalogue import AnomalyType
from relais_contracts.common import KNOWN_CARRIERS
from relais_contracts.tracking import TrackingStatus
from relais_insights.adapters.notifier_preview import SentCopy
from relais_insights.domain.order_filters import ShipmentQuery
from relais_insights.domain.order_timeline import ListedShipment, TimelineEntry, TimelineKind
from relais_insights.service.office_orders import OrderView, ShipmentPage
from relais_insights.service.office_users import SignedInUser
from relais_insights.ui import texts
from relais_insights.ui.office import office_language, render_office
from relais_runtime.merchants import MerchantConfig

BABEL_LOCALES: Final = {"fr": "fr_FR", "en": "en_GB"}

Say = Callable[..., str]


class Shown:
    """Dates, labels and links of the orders pages in one language and time zone."""

    def __init__(self, language: str, time_zone: str, merchant_id: str) -> None:
        self.language = language
        self.locale = BABEL_LOCALES[language]
        self.zone = ZoneInfo(time_zone)
        self.merchant_id = merchant_id

    def when(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return format_datetime(value.astimezone(self.zone), "short", locale=self.locale)

    def day(self, value: Any) -> str:
        return "—" if value is None else format_date(value, "medium", locale=self.locale)

    def status(self, code: str) -> str:
        return texts.say(self.language, f"orders_status_{code}")

    def anomaly(self, code: str) -> str:
        return texts.anomaly_label(self.language, code)

    def order_url(self, order_number: str) -> str:
        number = quote(order_number, safe="")
        return f"/office/{self.merchant_id}/orders/{number}?lang={self.language}"

    def message_url(self, order_number: str, notification_id: UUID) -> str:
        number = quote(order_number, safe="")
        return (
            f"/office/{self.merchant_id}/orders/{number}/messages/{notification_id}"
            f"?lang={self.language}"
        )


def _say(language: str) -> Say:
    return lambda key, **values: texts.say(language, key, **values)


DESCRIBED: Final[Mapping[TimelineKind, str]] = {
    TimelineKind.ORDER_PLACED: "orders_tl_order_placed",
    TimelineKind.ORDER_UPDATED: "orders_tl_order_updated",
    TimelineKind.ORDER_CANCELLED: "orders_tl_order_cancelled",
    TimelineKind.ANOMALY_RAISED: "orders_tl_anomaly_raised",
    TimelineKind.ANOMALY_ESCALATED: "orders_tl_anomaly_escalated",
    TimelineKind.ANOMALY_RESOLVED: "orders_tl_anomaly_resolved",
    TimelineKind.MESSAGE: "orders_tl_message",
    TimelineKind.CHAT_STARTED: "orders_tl_chat_started",
    TimelineKind.CHAT_ANSWER: "orders_tl_chat_answer",
    TimelineKind.RESOLUTION_CHOSEN: "orders_tl_resolution_chosen",
    TimelineKind.CALLBACK_REQUESTED: "orders_tl_callback_requested",
    TimelineKind.CHAT_ABANDONED: "orders_tl_chat_abandoned",
    TimelineKind.TRACKING_PAGE_VIEWED: "orders_tl_tracking_page_viewed",
    TimelineKind.ACTION_REQUESTED: "orders_tl_action_requested",
    TimelineKind.ACTION_RESULT: "orders_tl_action_result",
    TimelineKind.SURVEY_ANSWER: "orders_tl_survey_answer",
    TimelineKind.MILESTONE: "orders_tl_milestone",
}
"""The sentence of each kind, with the detail's fields as placeholders."""


def describe(entry: TimelineEntry, shown: Shown) -> str:
    """One sentence in the page's language; the stored summary when a field is missing."""
    if entry.kind is TimelineKind.CARRIER_SCAN:
        return entry.summary
    key = DESCRIBED.get(entry.kind)
    values = dict(entry.detail)
    if "anomaly_type" in values:
        values["anomaly_type"] = shown.anomaly(str(values["anomaly_type"]))
    if values.get("action"):
        values["action"] = texts.action_label(shown.language, str(values["action"]))
    if "outcome" in values:
        values["outcome"] = texts.say(shown.language, f"orders_outcome_{values['outcome']}")
    if "slot_start" in values:
        values["slot_start"] = shown.when(datetime.fromisoformat(str(values["slot_start"])))
    values.setdefault("action", values.get("outcome", ""))
    if key is None:
        return entry.summary
    try:
        sentence = texts.CATALOGUE[shown.language][key].format(**values)
    except (KeyError, IndexError):
        return entry.summary
    reason = entry.detail.get("reason")
    return f"{sentence} ({reason})" if reason else sentence


def _row(shipment: ListedShipment, shown: Shown) -> dict[str, Any]:
    return {
        "shipment": shipment,
        "url": shown.order_url(shipment.order_number),
        "status": shown.status(shipment.status),
        "anomalies": [shown.anomaly(code) for code in shipment.open_anomalies],
        "ordered": shown.day(shipment.ordered_at.astimezone(shown.zone).date()),
        "last_event": shown.when(shipment.last_event_at),
    }


def _choices(language: str) -> dict[str, list[tuple[str, str]]]:
    return {
        "status": [
            (s.value, texts.say(language, f"orders_status_{s.value}")) for s in TrackingStatus
        ],
        "anomaly": [(a.value, texts.anomaly_label(language, a.value)) for a in AnomalyType],
        "carrier": [(code, code) for code in KNOWN_CARRIERS],
    }


def page_link(query: ShipmentQuery, language: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return "?" + urlencode({**query.filters(), "cursor": cursor, "lang": language})


def render_orders(
    *,
    merchant: MerchantConfig,
    user: SignedInUser,
    lang: str | None,
    query: ShipmentQuery,
    page: ShipmentPage | None,
    error: str | None = None,
) -> str:
    language = office_language(lang, user, merchant)
    shown = Shown(language, merchant.time_zone, merchant.merchant_id)
    return render_office(
        "office/orders.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="orders",
        query=urlencode(query.filters()),
        filters=query.filters(),
        choices=_choices(language),
        rows=[_row(shipment, shown) for shipment in page.shipments] if page else [],
        next_url=page_link(query, language, page.next_cursor) if page else None,
        previous_url=page_link(query, language, page.previous_cursor) if page else None,
        error=error,
    )


def render_order(
    *, merchant: MerchantConfig, user: SignedInUser, lang: str | None, order: OrderView
) -> str:
    language = office_language(lang, user, merchant)
    shown = Shown(language, merchant.time_zone, merchant.merchant_id)
    numbered = {s.shipment_id: n for n, s in enumerate(order.shipments, start=1)}
    return render_office(
        "office/order.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="orders",
        order=order,
        shipments=[_row(shipment, shown) for shipment in order.shipments],
        shown=shown,
        timeline=[
            {
                "entry": entry,
                "when": shown.when(entry.at),
                "kind": texts.say(language, f"orders_kind_{entry.kind.value}"),
                "text": describe(entry, shown),
                "parcel": numbered.get(entry.shipment_id),
            }
            for entry in order.timeline
        ],
        back_url=f"/office/{merchant.merchant_id}/orders?lang={language}",
    )


def render_message(
    *,
    merchant: MerchantConfig,
    user: SignedInUser,
    lang: str | None,
    order: OrderView,
    entry: TimelineEntry,
    copy: SentCopy | None,
) -> str:
    """A sent message's page; `copy` None: the notifier gave none (the page says so)."""
    language = office_language(lang, user, merchant)
    shown = Shown(language, merchant.time_zone, merchant.merchant_id)
    channel = str(copy.channel if copy else entry.detail.get("channel", ""))
    return render_office(
        "office/message.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="orders",
        order=order,
        entry=entry,
        copy=copy,
        sent=texts.say(
            language,
            "message_sent",
            when=shown.when(copy.sent_at if copy and copy.sent_at else entry.at),
            channel=texts.say(language, f"message_channel_{channel}"),
        ),
        back_url=shown.order_url(order.order_number),
    )
