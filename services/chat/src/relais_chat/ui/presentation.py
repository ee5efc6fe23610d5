"""What the pages show: placeholder values, the timeline, dates and the theme.

Rules:
- dates and times are shown in the customer's time zone and language (Babel);
- the theme keeps text readable: the colour of text on the merchant's primary and
  accent colours is black or white, whichever contrasts more (WCAG relative
  luminance), so a pale brand colour never yields unreadable buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from relais_chat.domain.translations import language_of
from relais_chat.ui import delays
from relais_contracts.common import PostalAddress, carrier_display_name
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_runtime.merchants import MerchantConfig


def carrier_name(code: str | None) -> str:
    if code is None:
        return ""
    return carrier_display_name(code)


def show_date(day: date | None, *, locale: str) -> str:
    return "" if day is None else _show_date(day, locale)


def show_datetime(moment: datetime | None, *, locale: str, zone: str) -> str:
    return "" if moment is None else _show_datetime(moment, locale, zone)


@lru_cache(maxsize=4096)
def _show_date(day: date, locale: str) -> str:
    """Babel's formatting is slow and pure: each (day, locale) is formatted once."""
    return format_date(day, format="full", locale=_babel(locale))


@lru_cache(maxsize=4096)
def _show_datetime(moment: datetime, locale: str, zone: str) -> str:
    """As _show_date; equal instants (whatever their offset) are shown alike in `zone`."""
    local = moment.astimezone(ZoneInfo(zone))
    return format_datetime(local, format="EEEE d MMMM, HH:mm", locale=_babel(locale))


def _babel(locale: str) -> str:
    return locale.replace("-", "_")


def placeholder_values(
    *,
    merchant: MerchantConfig,
    context: ShipmentContext,
    state: ShipmentStateChanged | None,
    locale: str,
    zone: str,
) -> dict[str, Any]:
    """Values for translations.PLACEHOLDERS; the customer's name only from the shipment state."""
    point = context.pickup_point
    estimate = context.estimated_delivery
    new_delivery, new_ship = delays.new_days(context.declared_delay, zone=zone)
    return {
        "first_name": (state.customer.first_name if state else None) or "",
        "merchant_name": merchant.branding.display_name,
        "bot_name": merchant.branding.bot_name,
        "order_number": context.order_number,
        "carrier": carrier_name(context.carrier),
        "tracking_number": context.tracking_number or "",
        "promised_date": show_date(context.promised_delivery_by, locale=locale),
        "estimated_date": show_date(estimate.day if estimate else None, locale=locale),
        "pickup_point_name": point.name if point else "",
        "pickup_point_address": one_line(point.address.model_dump()) if point else "",
        "hold_deadline": show_datetime(context.pickup_hold_deadline, locale=locale, zone=zone),
        "parcel_index": context.parcel_index,
        "parcel_count": context.parcel_count,
        "delay_reason": delays.reason_clause(context.declared_delay, language=language_of(locale)),
        "new_delivery_date": show_date(new_delivery, locale=locale),
        "new_ship_date": show_date(new_ship, locale=locale),
    }


def one_line(address: dict[str, Any]) -> str:
    parts = [address.get("line1"), f"{address.get('postal_code', '')} {address.get('city', '')}"]
    return ", ".join(part.strip() for part in parts if part and part.strip())


CARRIER_LANGUAGES: Final = {
    "colissimo": "fr",
    "chronopost": "fr",
    "mondial_relay": "fr",
    "colis_prive": "fr",
    "ups": "en",
    "fedex": "en",
    "royal_mail": "en",
    "evri": "en",
    "postnl": "nl",
    "correos": "es",
}
"""The language a carrier writes its event texts in, where it writes only one."""


@dataclass(frozen=True)
class TimelineItem:
    when: str
    status: TrackingStatus
    description: str
    """The carrier's own words."""
    place: str
    fact: str = ""
    """The normalized event in the customer's words (empty: not told)."""
    carrier_language: str | None = None
    """The language of `description` when known (its lang attribute)."""
    moment: str = ""
    """The event time in ISO 8601 (the datetime attribute)."""


def timeline(
    events: Sequence[TrackingEventRecorded],
    *,
    locale: str,
    zone: str,
    facts: Callable[[Substatus], str] | None = None,
) -> list[TimelineItem]:
    """Newest first; one line per carrier event, its normalized fact first when `facts`."""
    ordered = sorted(events, key=lambda event: event.occurred_at, reverse=True)
    return [
        TimelineItem(
            when=show_datetime(event.occurred_at, locale=locale, zone=zone),
            status=event.status,
            description=event.description,
            place=_place(event),
            fact=facts(event.substatus) if facts else "",
            carrier_language=CARRIER_LANGUAGES.get(event.carrier),
            moment=event.occurred_at.isoformat(),
        )
        for event in ordered
    ]


def map_url(address: PostalAddress) -> str:
    """An OpenStreetMap search for a business address (a pickup point: not personal)."""
    query = ", ".join(
        part for part in (address.line1, f"{address.postal_code} {address.city}", address.country)
    )
    return "https://www.openstreetmap.org/search?" + urlencode({"query": query})


def _place(event: TrackingEventRecorded) -> str:
    location = event.location
    if location is None:
        return ""
    return ", ".join(
        str(part) for part in (location.facility, location.city, location.country) if part
    )


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable_on(background: str) -> str:
    """#ffffff or #000000, whichever contrasts more with the background."""
    white, black = "#ffffff", "#000000"
    return (
        white if contrast_ratio(background, white) >= contrast_ratio(background, black) else black
    )


def theme_css(merchant: MerchantConfig | None) -> str:
    """The merchant's colours as CSS variables: the page's only inline style (its hash is
    allowed by the Content-Security-Policy, see relais_chat.headers)."""
    if merchant is None:
        return ""
    colors = merchant.branding.colors
    return _theme_css(colors.primary, colors.accent, colors.background, colors.text)


@lru_cache(maxsize=256)
def _theme_css(primary: str, accent: str, background: str, text: str) -> str:
    values = _theme(primary, accent, background, text)
    return (
        f":root{{--primary:{values['primary']};--on-primary:{values['on_primary']};"
        f"--accent:{values['accent']};--on-accent:{values['on_accent']};"
        f"--bg:{values['background']};--text:{values['text']}}}"
    )


def theme(merchant: MerchantConfig) -> dict[str, str]:
    colors = merchant.branding.colors
    return dict(_theme(colors.primary, colors.accent, colors.background, colors.text))


@lru_cache(maxsize=256)
def _theme(primary: str, accent: str, background: str, text: str) -> dict[str, str]:
    """Pure, remembered per colours; callers get a copy (theme)."""
    return {
        "primary": primary,
        "on_primary": readable_on(primary),
        "accent": accent,
        "on_accent": readable_on(accent),
        "background": background,
        "text": text,
    }
