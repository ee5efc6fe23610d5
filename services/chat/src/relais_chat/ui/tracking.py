"""The tracking page and its calendar file, in the customer's language.

Rules:
- the stepper, the promise against the estimate and the calendar day come from the
  pure domain (domain.progress, domain.calendar); this module only words them;
- the timeline shows the normalized fact first (ui.words `substatus_*`), the
  carrier's own words second, with their language when the carrier's is known;
- the order's contents are shown when the shipment state lists them, nothing
  otherwise; the pickup point block only while the parcel goes to or waits at one;
- merchant content blocks are those configured for the current stage, in the
  customer's language (else the merchant's first, else the first written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from relais_chat.domain.calendar import (
    CalendarDay,
    CalendarEvent,
    CalendarKind,
    calendar_day,
    ics,
)
from relais_chat.domain.conversation import customer_locale
from relais_chat.domain.progress import Outlook, Step, current_stage, outlook, stepper
from relais_chat.domain.translations import language_of
from relais_chat.service.pages import CalendarSubject, TrackingView
from relais_chat.ui import presentation, words
from relais_chat.ui.transcript import Words
from relais_contracts.common import DeliveryMode
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import TrackingStatus
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.tracking_page import ContentBlock, Stage, local


@dataclass(frozen=True)
class StepView:
    label: str
    state: str
    problem: bool


def step_views(steps: list[Step], *, pickup: bool, t: Words) -> list[StepView]:
    def label(stage: Stage) -> str:
        collected = pickup and stage is Stage.DELIVERED
        return t("stage_collected" if collected else f"stage_{stage.value}")

    return [StepView(label(step.stage), step.state.value, step.problem) for step in steps]


def outlook_view(found: Outlook, *, locale: str, t: Words) -> dict[str, Any]:
    reason = t(f"substatus_{found.reason.value}") if found.reason else t("late_no_reason")
    return {
        "promised": presentation.show_date(found.promised, locale=locale),
        "estimated": presentation.show_date(found.estimated, locale=locale),
        "late": found.late,
        "reason": t("late_reason", reason=reason) if found.late else "",
    }


def blocks_for(merchant: MerchantConfig, stage: Stage, language: str) -> list[dict[str, Any]]:
    languages = (language, language_of(merchant.locales[0]))
    return [
        _block(block, languages) for block in merchant.tracking.page.blocks if block.shown_at(stage)
    ]


def _block(block: ContentBlock, languages: tuple[str, ...]) -> dict[str, Any]:
    banner = block.banner
    if banner is not None:
        return {
            "kind": "banner",
            "text": local(banner.text, *languages),
            "link": str(banner.link) if banner.link else None,
            "link_text": local(banner.link_text, *languages) if banner.link_text else "",
            "image": str(banner.image) if banner.image else None,
            "image_alt": local(banner.image_alt, *languages) if banner.image_alt else "",
        }
    return {
        "kind": "products",
        "title": local(block.title, *languages) if block.title else "",
        "products": [
            {
                "name": local(product.name, *languages),
                "url": str(product.url),
                "image": str(product.image) if product.image else None,
                "price": product.price or "",
            }
            for product in block.products
        ],
    }


def items_view(state: ShipmentStateChanged, *, t: Words) -> list[dict[str, Any]]:
    return [
        {"line": t("item_line", name=item.name, quantity=item.quantity), "image": item.image_url}
        for item in state.items
    ]


def pickup_view(state: ShipmentStateChanged, *, locale: str, t: Words) -> dict[str, Any] | None:
    point = state.delivery.pickup_point
    waiting = state.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    if point is None or state.delivered_at is not None:
        return None
    if state.delivery.mode is not DeliveryMode.PICKUP_POINT and not waiting:
        return None
    return {
        "name": point.name,
        "address": presentation.one_line(point.address.model_dump()),
        "opening_hours": point.opening_hours or "",
        "hold_deadline": presentation.show_datetime(
            state.pickup_hold_deadline, locale=locale, zone=state.customer.time_zone
        ),
        "map_url": presentation.map_url(point.address),
    }


def tracking_context(view: TrackingView, *, t: Words, locale: str) -> dict[str, Any]:
    state = view.state
    zone = state.customer.time_zone
    pickup = state.delivery.mode is DeliveryMode.PICKUP_POINT
    today = view.now.astimezone(ZoneInfo(zone)).date()
    return {
        "state": state,
        "status_label": t(f"status_{state.status.value}"),
        "status_key": state.status.value,
        "fact": t(f"substatus_{state.substatus.value}"),
        "steps": step_views(stepper(state), pickup=pickup, t=t),
        "outlook": outlook_view(outlook(state, today=today), locale=locale, t=t),
        "delivered_at": presentation.show_datetime(state.delivered_at, locale=locale, zone=zone),
        "carrier": presentation.carrier_name(state.carrier),
        "items": items_view(state, t=t),
        "point": pickup_view(state, locale=locale, t=t),
        "timeline": presentation.timeline(
            view.events,
            locale=locale,
            zone=zone,
            facts=lambda substatus: t(f"substatus_{substatus.value}"),
        ),
        "chat_url": view.chat_url,
        "has_calendar": calendar_day(state) is not None,
        "blocks": blocks_for(
            view.merchant, current_stage(state), words.ui_language(locale, view.merchant.locales)
        ),
    }


def calendar_file(subject: CalendarSubject, *, tracking_url: str) -> bytes | None:
    """The .ics of the shipment's delivery day or pickup deadline; None when it has none."""
    state, merchant = subject.state, subject.merchant
    found = calendar_day(state)
    if found is None:
        return None
    locale = customer_locale(merchant, state)
    t = words.words_for(locale, merchant.locales)
    return ics(
        CalendarEvent(
            uid=f"{state.shipment_id}.{merchant.merchant_id}@relais",
            day=found.day,
            summary=_summary(found, state, merchant, t),
            description=_description(found, state, tracking_url, locale, t),
            location=_location(found, state),
            url=tracking_url,
            stamp=subject.now,
        )
    )


def _summary(
    found: CalendarDay, state: ShipmentStateChanged, merchant: MerchantConfig, t: Words
) -> str:
    point = state.delivery.pickup_point
    if found.kind is CalendarKind.PICKUP_DEADLINE and point is not None:
        return t("calendar_pickup_summary", order_number=state.order_number, point=point.name)
    return t(
        "calendar_delivery_summary",
        order_number=state.order_number,
        merchant=merchant.branding.display_name,
    )


def _description(
    found: CalendarDay, state: ShipmentStateChanged, url: str, locale: str, t: Words
) -> str:
    if found.kind is CalendarKind.PICKUP_DEADLINE:
        deadline = presentation.show_datetime(
            state.pickup_hold_deadline, locale=locale, zone=state.customer.time_zone
        )
        return t("calendar_pickup_description", deadline=deadline, url=url)
    return t("calendar_description", url=url)


def _location(found: CalendarDay, state: ShipmentStateChanged) -> str | None:
    point = state.delivery.pickup_point
    if found.kind is not CalendarKind.PICKUP_DEADLINE or point is None:
        return None
    return f"{point.name}, {presentation.one_line(point.address.model_dump())}"


def calendar_filename(order_number: str) -> str:
    """A file name of letters, digits, `-` and `_` only (it goes in a header)."""
    safe = "".join(c for c in order_number if c.isascii() and (c.isalnum() or c in "-_"))
    return f"order-{safe or 'parcel'}.ics"
