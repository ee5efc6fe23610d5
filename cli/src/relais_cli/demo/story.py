"""The demo's day of traffic, as pure data: orders and the carrier scans of each parcel.

Rules:
- deterministic: the same seed, count and start give the same stories;
- orders ship between 08:00 and 18:00 (virtual) of the first day, each order's first
  call is its placement through the order API, at its ship time;
- every parcel's carrier events are in the generic Relais format (docs/carriers.md),
  sent when virtual time reaches their `occurred_at`, never earlier;
- about 70 % of parcels are delivered normally; the rest follow one scenario of the
  anomaly catalogue (KINDS), picked with the weights of ANOMALY_WEIGHTS;
- nothing here is a real person: names are from a short list, emails end in
  `@example.com` and carry the run id so the demo finds its own mail.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

CARRIERS = ("colissimo", "chronopost", "dhl", "ups", "fedex", "dpd", "gls", "mondial_relay")

ANOMALY_WEIGHTS: dict[str, int] = {
    "late": 4,
    "stalled": 3,
    "failed_attempt": 4,
    "address_problem": 2,
    "returned": 2,
    "damaged": 2,
    "refused": 1,
    "pickup_point": 4,
    "neighbour": 3,
    "lost": 2,
    "customs": 2,
}
"""Relative frequency of each anomalous scenario among the parcels that are not normal."""

NORMAL_SHARE = 0.7
ORDER_VALUES = ("24.90", "39.00", "54.50", "89.90", "129.00")
"""Some under the merchants' automatic-action ceilings (60 EUR, 40 GBP), some above."""

FIRST_NAMES = ("Camille", "Léa", "Hugo", "Emma", "Noah", "Olivia", "Lucas", "Amelia", "Jules")
CITIES = {
    "fr": [("Lyon", "69003", "FR"), ("Nantes", "44000", "FR"), ("Lille", "59000", "FR")],
    "en": [("Leeds", "LS1 4DY", "GB"), ("Bristol", "BS1 5TR", "GB"), ("Dublin", "D02 X285", "IE")],
}


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    locale: str
    time_zone: str
    currency: str


@dataclass(frozen=True)
class CarrierCall:
    """One webhook call: the generic payload of one event of one parcel."""

    at: datetime
    tracking_number: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class OrderCall:
    at: datetime
    merchant_id: str
    body: dict[str, Any]


@dataclass
class DayOfTraffic:
    orders: list[OrderCall] = field(default_factory=list)
    scans: list[CarrierCall] = field(default_factory=list)
    scenarios: dict[str, int] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return max([call.at for call in self.orders] + [call.at for call in self.scans])


def _event(
    at: datetime, substatus: str, city: tuple[str, str, str], **extra: Any
) -> dict[str, Any]:
    name, postal_code, country = city
    return {
        "occurred_at": at.isoformat(),
        "substatus": substatus,
        "description": substatus.replace("_", " ").capitalize(),
        "location": {"city": name, "postal_code": postal_code, "country": country},
        **extra,
    }


def scenario_events(
    kind: str, *, shipped: datetime, city: tuple[str, str, str], promised_by: datetime
) -> list[dict[str, Any]]:
    """The carrier events of one parcel following scenario `kind`, oldest first."""
    hub = ("Paris", "75012", "FR") if city[2] == "FR" else ("London", "E16 2QU", "GB")
    h = timedelta(hours=1)
    start = [
        _event(shipped + h, "accepted_by_carrier", hub),
        _event(shipped + 6 * h, "departed_facility", hub),
    ]
    arrive = _event(shipped + 20 * h, "arrived_at_facility", city)
    out = _event(shipped + 26 * h, "out_for_delivery_unspecified", city)
    tail: dict[str, list[dict[str, Any]]] = {
        "normal": [arrive, out, _event(shipped + 30 * h, "delivered_to_recipient", city)],
        "late": [
            _event(
                shipped + 20 * h,
                "delayed",
                city,
                incident={"reason": "carrier_transport_delay"},
                estimated_delivery={"day": (promised_by + 48 * h).date().isoformat()},
            ),
        ],
        "stalled": [],
        "failed_attempt": [
            arrive,
            out,
            _event(
                shipped + 30 * h,
                "recipient_absent",
                city,
                incident={"reason": "recipient_not_home"},
            ),
        ],
        "address_problem": [
            arrive,
            _event(
                shipped + 24 * h,
                "incorrect_address",
                city,
                incident={"reason": "recipient_incorrect_address"},
            ),
        ],
        "returned": [arrive, _event(shipped + 28 * h, "returning_to_sender", city)],
        "damaged": [
            _event(shipped + 18 * h, "damaged", hub, incident={"reason": "carrier_damaged_parcel"}),
        ],
        "refused": [arrive, out, _event(shipped + 29 * h, "refused_by_recipient", city)],
        "pickup_point": [arrive, _event(shipped + 27 * h, "ready_for_pickup", city)],
        "neighbour": [arrive, out, _event(shipped + 29 * h, "delivered_to_neighbour", city)],
        "lost": [_event(shipped + 40 * h, "lost", hub, incident={"reason": "carrier_parcel_lost"})],
        "customs": [
            _event(shipped + 16 * h, "arrived_in_destination_country", city),
            _event(
                shipped + 18 * h,
                "held_at_customs",
                city,
                incident={"reason": "customs_duties_unpaid"},
            ),
        ],
    }
    return start + tail[kind]


def pick_scenario(rng: random.Random) -> str:
    if rng.random() < NORMAL_SHARE:
        return "normal"
    kinds = list(ANOMALY_WEIGHTS)
    return rng.choices(kinds, weights=[ANOMALY_WEIGHTS[k] for k in kinds])[0]


def day_of_traffic(
    *, merchants: list[Merchant], orders: int, start: datetime, run_id: str, seed: int = 7
) -> DayOfTraffic:
    """`orders` orders spread over the merchants, shipped during the day after `start`."""
    rng = random.Random(seed)
    day = DayOfTraffic()
    for index in range(orders):
        merchant = merchants[index % len(merchants)]
        kind = pick_scenario(rng)
        shipped = start + timedelta(minutes=rng.randrange(0, 10 * 60))
        language = merchant.locale.split("-")[0]
        city = rng.choice(CITIES.get(language, CITIES["en"]))
        promised_by = shipped + timedelta(days=2)
        order_id = f"{run_id}-{index:04d}"
        tracking_number = f"RD{run_id.upper()}{index:05d}"
        carrier = rng.choice(CARRIERS)
        body = order_body(
            merchant=merchant,
            order_id=order_id,
            tracking_number=tracking_number,
            carrier_name=carrier,
            shipped=shipped,
            promised_by=promised_by,
            city=city,
            first_name=rng.choice(FIRST_NAMES),
            pickup=kind == "pickup_point",
            value=rng.choice(ORDER_VALUES),
        )
        day.orders.append(OrderCall(at=shipped, merchant_id=merchant.merchant_id, body=body))
        for event in scenario_events(kind, shipped=shipped, city=city, promised_by=promised_by):
            payload = {"tracking_number": tracking_number, "carrier": carrier, "events": [event]}
            at = datetime.fromisoformat(event["occurred_at"])
            day.scans.append(CarrierCall(at=at, tracking_number=tracking_number, payload=payload))
        day.scenarios[kind] = day.scenarios.get(kind, 0) + 1
    day.scans.sort(key=lambda call: call.at)
    day.orders.sort(key=lambda call: call.at)
    return day


def order_body(
    *,
    merchant: Merchant,
    order_id: str,
    tracking_number: str,
    carrier_name: str,
    shipped: datetime,
    promised_by: datetime,
    city: tuple[str, str, str],
    first_name: str,
    pickup: bool,
    value: str,
) -> dict[str, Any]:
    """The body of `POST /v1/orders` (the OrderPlaced fields without the envelope)."""
    name, postal_code, country = city
    address = {
        "name": f"{first_name} Demo",
        "line1": "1 Demo Street",
        "postal_code": postal_code,
        "city": name,
        "country": country,
    }
    delivery: dict[str, Any] = {"mode": "home", "address": address}
    if pickup:
        delivery = {
            "mode": "pickup_point",
            "address": address,
            "pickup_point": {
                "point_id": f"PP-{postal_code.replace(' ', '')}",
                "network": carrier_name,
                "kind": "relay",
                "name": f"Relais {name}",
                "address": {**address, "name": None, "line1": "2 Market Square"},
                "hold_days": 10,
            },
        }
    return {
        "order_id": order_id,
        "order_number": f"#{order_id}",
        "placed_at": (shipped - timedelta(hours=20)).isoformat(),
        "customer": {
            "customer_id": f"C-{order_id}",
            "first_name": first_name,
            "last_name": "Demo",
            "email": f"{order_id.lower()}@example.com",
            "locale": merchant.locale,
            "time_zone": merchant.time_zone,
        },
        "delivery": delivery,
        "promised_delivery_by": promised_by.date().isoformat(),
        "order_value": {"amount": value, "currency": merchant.currency},
        "parcels": [
            {
                "shipment_id": f"{order_id}-1",
                "carrier": "generic",
                "tracking_number": tracking_number,
                "shipped_at": shipped.isoformat(),
                "service": carrier_name,
                "items": [{"sku": "DEMO-1", "name": "Demo item", "quantity": 1}],
            }
        ],
    }
