"""The demo's day of traffic, as pure data: orders and the carrier scans of each parcel.

Rules:
- deterministic: the same seed, count and start give the same stories;
- orders ship between 08:00 and 18:00 (virtual) of the first day, each order's first
  call is its placement through the order API, at its ship time;
- a parcel's scans are carrier-neutral (`carriers.Scan`, in Relais terms); each is sent
  when virtual time reaches it, never earlier, in its carrier's own format when that
  format can tell the parcel's whole scenario (`carriers.speaks`), else the whole
  parcel in the generic Relais format (docs/carriers.md) with carrier `generic` on the
  order; `DayOfTraffic.formats` counts the parcels of each;
- a scenario's incidents are the taxonomy's pairs carriers actually report
  (`INCIDENTS`): a missed connection is `delayed_processing`, a customs hold
  `held_at_customs` for `customs_delay`;
- about 70 % of parcels are delivered normally; the rest follow one scenario of the
  anomaly catalogue (KINDS), picked with the weights of ANOMALY_WEIGHTS;
- nothing here is a real person: names are from a short list, emails end in
  `@example.com` and carry the run id so the demo finds its own mail.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from relais_cli.demo.carriers import (
    FORMATS,
    GENERIC,
    Place,
    Scan,
    generic_payload,
    native_payload,
    speaks,
)

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
    "fr": [
        Place("Lyon", "69003", "FR"),
        Place("Nantes", "44000", "FR"),
        Place("Lille", "59000", "FR"),
    ],
    "en": [
        Place("Leeds", "LS1 4DY", "GB"),
        Place("Bristol", "BS1 5TR", "GB"),
        Place("Dublin", "D02 X285", "IE"),
    ],
}
HUBS = {"FR": Place("Paris", "75012", "FR")}
DEFAULT_HUB = Place("London", "E16 2QU", "GB")

INCIDENTS: dict[str, str] = {
    "delayed_processing": "carrier_transport_delay",
    "recipient_absent": "recipient_not_home",
    "incorrect_address": "recipient_incorrect_address",
    "damaged": "carrier_damaged_parcel",
    "lost": "carrier_parcel_lost",
    "held_at_customs": "customs_delay",
}
"""The incident reason each scan kind of the scenarios carries, when it carries one."""


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    locale: str
    time_zone: str
    currency: str


@dataclass(frozen=True)
class CarrierCall:
    """One webhook call: one scan of one parcel, as `carrier`'s endpoint takes it."""

    at: datetime
    tracking_number: str
    carrier: str
    """The endpoint and format: a carrier code of carriers.FORMATS, or `generic`."""
    payload: dict[str, Any]
    kind: str
    """The scan's Relais substatus (what the payload means)."""


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
    formats: dict[str, int] = field(default_factory=dict)
    """Parcels by the format their scans are sent in (a carrier code or `generic`)."""

    @property
    def end(self) -> datetime:
        return max([call.at for call in self.orders] + [call.at for call in self.scans])


def _scan(at: datetime, kind: str, place: Place, *, estimated_day: date | None = None) -> Scan:
    return Scan(
        at=at, kind=kind, place=place, incident=INCIDENTS.get(kind), estimated_day=estimated_day
    )


def scenario_scans(
    kind: str, *, shipped: datetime, city: Place, promised_by: datetime
) -> list[Scan]:
    """The carrier scans of one parcel following scenario `kind`, oldest first."""
    hub = HUBS.get(city.country, DEFAULT_HUB)
    h = timedelta(hours=1)
    start = [
        _scan(shipped + h, "accepted_by_carrier", hub),
        _scan(shipped + 6 * h, "in_transit_unspecified", hub),
    ]
    arrive = _scan(shipped + 20 * h, "arrived_at_facility", city)
    out = _scan(shipped + 26 * h, "out_for_delivery_unspecified", city)
    tail: dict[str, list[Scan]] = {
        "normal": [arrive, out, _scan(shipped + 30 * h, "delivered_unspecified", city)],
        "late": [
            _scan(
                shipped + 20 * h,
                "delayed_processing",
                city,
                estimated_day=(promised_by + 48 * h).date(),
            ),
            # Delivered a day after the promise: late, but delivered (carrier on-time rate).
            _scan(promised_by + 26 * h, "out_for_delivery_unspecified", city),
            _scan(promised_by + 30 * h, "delivered_unspecified", city),
        ],
        "stalled": [],
        "failed_attempt": [arrive, out, _scan(shipped + 30 * h, "recipient_absent", city)],
        "address_problem": [arrive, _scan(shipped + 24 * h, "incorrect_address", city)],
        "returned": [arrive, _scan(shipped + 28 * h, "returning_to_sender", city)],
        "damaged": [_scan(shipped + 18 * h, "damaged", hub)],
        "refused": [arrive, out, _scan(shipped + 29 * h, "refused_by_recipient", city)],
        "pickup_point": [arrive, _scan(shipped + 27 * h, "ready_for_pickup", city)],
        "neighbour": [arrive, out, _scan(shipped + 29 * h, "delivered_to_neighbour", city)],
        "lost": [_scan(shipped + 40 * h, "lost", hub)],
        "customs": [
            _scan(shipped + 16 * h, "arrived_in_destination_country", city),
            _scan(shipped + 18 * h, "held_at_customs", city),
        ],
    }
    return start + tail[kind]


def carrier_calls(*, carrier: str, tracking_number: str, scans: list[Scan]) -> list[CarrierCall]:
    """One call per scan, all in the carrier's format if it speaks them all, else all in
    the generic format."""
    native = speaks(carrier, scans)
    return [
        CarrierCall(
            at=scan.at,
            tracking_number=tracking_number,
            carrier=carrier if native else GENERIC,
            payload=(
                native_payload(carrier, tracking_number=tracking_number, scan=scan)
                if native
                else generic_payload(carrier=carrier, tracking_number=tracking_number, scan=scan)
            ),
            kind=scan.kind,
        )
        for scan in scans
    ]


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
        scans = scenario_scans(kind, shipped=shipped, city=city, promised_by=promised_by)
        calls = carrier_calls(carrier=carrier, tracking_number=tracking_number, scans=scans)
        body = order_body(
            merchant=merchant,
            order_id=order_id,
            tracking_number=tracking_number,
            carrier_name=carrier,
            sent_as=calls[0].carrier,
            shipped=shipped,
            promised_by=promised_by,
            city=city,
            first_name=rng.choice(FIRST_NAMES),
            pickup=kind == "pickup_point",
            value=rng.choice(ORDER_VALUES),
        )
        day.orders.append(OrderCall(at=shipped, merchant_id=merchant.merchant_id, body=body))
        day.scans.extend(calls)
        day.scenarios[kind] = day.scenarios.get(kind, 0) + 1
        day.formats[calls[0].carrier] = day.formats.get(calls[0].carrier, 0) + 1
    day.scans.sort(key=lambda call: call.at)
    day.orders.sort(key=lambda call: call.at)
    return day


def order_body(
    *,
    merchant: Merchant,
    order_id: str,
    tracking_number: str,
    carrier_name: str,
    sent_as: str = GENERIC,
    shipped: datetime,
    promised_by: datetime,
    city: Place | tuple[str, str, str],
    first_name: str,
    pickup: bool,
    value: str,
) -> dict[str, Any]:
    """The body of `POST /v1/orders` (the OrderPlaced fields without the envelope): the
    parcel names the carrier its scans are sent as (`sent_as`: the real carrier, or
    `generic`) and the real carrier's service."""
    if not isinstance(city, Place):
        city = Place(*city)
    address = {
        "name": f"{first_name} Demo",
        "line1": "1 Demo Street",
        "postal_code": city.postal_code,
        "city": city.city,
        "country": city.country,
    }
    delivery: dict[str, Any] = {"mode": "home", "address": address}
    if pickup:
        delivery = {
            "mode": "pickup_point",
            "address": address,
            "pickup_point": {
                "point_id": f"PP-{city.postal_code.replace(' ', '')}",
                "network": carrier_name,
                "kind": "relay",
                "name": f"Relais {city.city}",
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
                "carrier": sent_as,
                "tracking_number": tracking_number,
                "shipped_at": shipped.isoformat(),
                "service": FORMATS[carrier_name].product
                if carrier_name in FORMATS
                else carrier_name,
                "items": [{"sku": "DEMO-1", "name": "Demo item", "quantity": 1}],
            }
        ],
    }
