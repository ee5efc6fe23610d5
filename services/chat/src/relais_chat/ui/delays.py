"""A merchant-declared delay in the chat's words (relais_contracts.shipment.DeclaredDelay).

Rules:
- the reason is a clause that ends "your order ... will be late <clause>" in each
  language (de and nl carry their own conjunction, "weil", "omdat" or "door"), the same
  wording as the notifier's messages, so the chat says what the email said;
- the new date is the new delivery day when the merchant gave one, else the new
  ship-by day in the customer's time zone; a shipment with no declared delay has
  neither (the placeholders are empty and the scenario says what it said before).
"""

from __future__ import annotations

from datetime import date
from typing import Final
from zoneinfo import ZoneInfo

from relais_contracts.shipment import DeclaredDelay, DelayReason
from relais_runtime.i18n import DEFAULT_LANGUAGE

REASON_CLAUSES: Final[dict[str, dict[DelayReason, str]]] = {
    "en": {
        DelayReason.STOCK: "an item is out of stock",
        DelayReason.PREPARATION: "preparing it is taking longer than planned",
        DelayReason.CARRIER_PICKUP: "the carrier has not collected it yet",
        DelayReason.WEATHER: "bad weather is holding it up",
        DelayReason.STRIKE: "a strike is holding it up",
        DelayReason.OTHER: "something unexpected came up",
    },
    "fr": {
        DelayReason.STOCK: "un article est en rupture de stock",
        DelayReason.PREPARATION: "sa préparation est plus longue que prévu",
        DelayReason.CARRIER_PICKUP: "le transporteur tarde à l'enlever",
        DelayReason.WEATHER: "les intempéries la retardent",
        DelayReason.STRIKE: "une grève la retarde",
        DelayReason.OTHER: "un imprévu est survenu",
    },
    "de": {
        DelayReason.STOCK: "weil ein Artikel nicht vorrätig ist",
        DelayReason.PREPARATION: "weil die Vorbereitung länger dauert",
        DelayReason.CARRIER_PICKUP: "weil sie noch nicht abgeholt wurde",
        DelayReason.WEATHER: "weil schlechtes Wetter sie aufhält",
        DelayReason.STRIKE: "weil ein Streik sie aufhält",
        DelayReason.OTHER: "weil etwas dazwischengekommen ist",
    },
    "es": {
        DelayReason.STOCK: "un producto se ha agotado",
        DelayReason.PREPARATION: "estamos tardando en prepararlo",
        DelayReason.CARRIER_PICKUP: "el transportista no lo ha recogido",
        DelayReason.WEATHER: "el mal tiempo lo retrasa",
        DelayReason.STRIKE: "una huelga lo retrasa",
        DelayReason.OTHER: "ha surgido un imprevisto",
    },
    "it": {
        DelayReason.STOCK: "un articolo è esaurito",
        DelayReason.PREPARATION: "la preparazione richiede più tempo",
        DelayReason.CARRIER_PICKUP: "il corriere non l'ha ancora ritirato",
        DelayReason.WEATHER: "il maltempo lo sta rallentando",
        DelayReason.STRIKE: "uno sciopero lo sta rallentando",
        DelayReason.OTHER: "si è verificato un imprevisto",
    },
    "nl": {
        DelayReason.STOCK: "omdat een artikel is uitverkocht",
        DelayReason.PREPARATION: "omdat het klaarmaken langer duurt",
        DelayReason.CARRIER_PICKUP: "omdat die nog niet is opgehaald",
        DelayReason.WEATHER: "door slecht weer",
        DelayReason.STRIKE: "door een staking",
        DelayReason.OTHER: "door iets onverwachts",
    },
}
"""Every DelayReason in every scenario language (a unit test checks it)."""


def reason_clause(delay: DeclaredDelay | None, *, language: str) -> str:
    if delay is None:
        return ""
    clauses = REASON_CLAUSES.get(language, REASON_CLAUSES[DEFAULT_LANGUAGE])
    return clauses[delay.reason]


def new_days(delay: DeclaredDelay | None, *, zone: str) -> tuple[date | None, date | None]:
    """(new delivery day, new ship-by day in the customer's zone), each None if not given."""
    if delay is None:
        return None, None
    ship = delay.new_ship_by.astimezone(ZoneInfo(zone)).date() if delay.new_ship_by else None
    return delay.new_delivery_by, ship
