"""What a conversation is about and where it stands, and whose language and time
zone it speaks.

Rules:
- one conversation per subject: an anomaly, a shipment's delivery (the survey), or a
  campaign message (a merchant's broadcast, in the scenario the broadcast chose);
- a conversation is `open` until its scenario finishes (`finished`) or the facts
  close its anomaly first (`abandoned`); only an open one accepts answers;
- the language is `relais_runtime.i18n.customer_language` (the fallback chain over
  the languages the merchant serves: a `de-AT` customer of a merchant serving `de`
  reads German, one the merchant does not serve reads the merchant's default); the
  customer's own locale is kept when it speaks that language (its dates), else the
  merchant's locale of that language; times are the customer's, else the merchant's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from uuid import UUID
from zoneinfo import ZoneInfo

from relais_chat.domain.engine import Progress
from relais_chat.domain.forms import FormContext
from relais_chat.domain.translations import LANGUAGES, language_of
from relais_contracts.catalogue import AnomalyType
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics.conversations import ConversationPurpose
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_runtime.i18n import customer_language, normalize_tag
from relais_runtime.merchants import MerchantConfig

DEFAULT_COUNTRY = "FR"
"""The address form's country when neither the shipment nor its pickup point names one."""


class ConversationStatus(StrEnum):
    OPEN = "open"
    FINISHED = "finished"
    ABANDONED = "abandoned"

    @classmethod
    def after(cls, progress: Progress) -> ConversationStatus:
        return cls.FINISHED if progress.finished else cls.OPEN


@dataclass(frozen=True)
class Subject:
    """What a link opens, as the chat's read model knows it."""

    purpose: ConversationPurpose
    subject_id: UUID
    merchant_id: str
    shipment_id: str
    anomaly_type: AnomalyType | None
    context: ShipmentContext
    state: ShipmentStateChanged | None
    closed: bool
    broadcast_scenario: str | None = None
    """A broadcast's chosen scenario (subject_id: the campaign message id); no anomaly."""

    @property
    def campaign_message_id(self) -> UUID | None:
        return self.subject_id if self.broadcast_scenario is not None else None


def customer_locale(merchant: MerchantConfig, state: ShipmentStateChanged | None) -> str:
    return _customer_locale(
        state.customer.locale if state is not None else None, tuple(merchant.locales)
    )


@lru_cache(maxsize=1024)
def _customer_locale(declared: str | None, merchant_locales: tuple[str, ...]) -> str:
    """Pure: remembered per (customer's declared locale, merchant's locales)."""
    wanted = normalize_tag(declared)
    language = customer_language(wanted, merchant_locales, LANGUAGES)
    if wanted is not None and language_of(wanted) == language:
        return wanted
    spoken = (locale for locale in merchant_locales if language_of(locale) == language)
    return next(spoken, language)


def customer_zone(merchant: MerchantConfig, state: ShipmentStateChanged | None) -> str:
    return state.customer.time_zone if state is not None else merchant.time_zone


def home_country(subject: Subject) -> str:
    """The delivery address's country, else the pickup point's, else DEFAULT_COUNTRY."""
    state = subject.state
    if state is not None and state.delivery.address is not None:
        return state.delivery.address.country
    if subject.context.pickup_point is not None:
        return subject.context.pickup_point.address.country
    return DEFAULT_COUNTRY


def form_context(merchant: MerchantConfig, subject: Subject, now: datetime) -> FormContext:
    """Forms read days in the customer's zone and phones in the customer's country."""
    zone = ZoneInfo(customer_zone(merchant, subject.state))
    return FormContext(
        today=now.astimezone(zone).date(),
        time_zone=zone,
        country=home_country(subject),
        pickup_network=subject.context.pickup_point.network
        if subject.context.pickup_point
        else None,
    )
