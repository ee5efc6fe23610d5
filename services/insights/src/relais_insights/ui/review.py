"""The review queue's page: held messages oldest first, over-limit rows highlighted."""

from __future__ import annotations

from typing import Any

from relais_insights.domain.office import Role
from relais_insights.service.office_users import SignedInUser
from relais_insights.service.review_queue import QueueItem
from relais_insights.ui import texts
from relais_insights.ui.office import office_language, render_office
from relais_insights.ui.office_orders import Shown
from relais_runtime.merchants import MerchantConfig

DONE_NOTICES = {"send": "review_done_send", "dismiss": "review_done_dismiss"}


def waited_text(language: str, seconds: int) -> str:
    hours, minutes = divmod(seconds // 60, 60)
    if hours:
        return texts.say(language, "review_waited_hours", hours=hours, minutes=minutes)
    return texts.say(language, "review_waited_minutes", minutes=minutes)


def _row(item: QueueItem, shown: Shown) -> dict[str, Any]:
    review = item.row.review
    number = item.row.order_number
    return {
        "review_id": str(review.review_id),
        "anomaly": shown.anomaly(review.anomaly_type),
        "reminder": review.purpose != "initial",
        "order_number": number or review.shipment_id,
        "order_url": shown.order_url(number) if number else None,
        "held_at": shown.when(review.held_at),
        "waited": waited_text(shown.language, item.waited_s),
        "over_limit": item.over_limit,
        "channels": ", ".join(review.channels),
    }


def render_review(
    *,
    merchant: MerchantConfig,
    user: SignedInUser,
    lang: str | None,
    items: list[QueueItem],
    done: str | None = None,
) -> str:
    language = office_language(lang, user, merchant)
    shown = Shown(language, merchant.time_zone, merchant.merchant_id)
    notification = merchant.notification
    limit_s = int(notification.review_alert_after.total_seconds()) if notification else 7200
    notice_key = DONE_NOTICES.get(done or "", "review_done_closed" if done else "")
    return render_office(
        "office/review.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="review",
        rows=[_row(item, shown) for item in items],
        limit=waited_text(language, limit_s),
        over=sum(item.over_limit for item in items),
        may_decide=user.can(Role.AGENT),
        done_notice=texts.say(language, notice_key) if notice_key else None,
    )
