"""AfterShip: the tracking webhook (an aggregator: one integration, the real carrier in
`slug`).

Shape (https://www.aftership.com/docs/tracking/2025-01/webhook/webhook-specifications):
`{event, event_id, ts, msg: {tracking_number, slug, tag, subtag, subtag_message,
checkpoints: [{slug, checkpoint_time, message, tag, subtag, subtag_message, city,
zip, country_iso3, location}]}}`; signed with `aftership-hmac-sha256`: base64
HMAC-SHA256 of the raw body (scheme `hmac_sha256`, encoding `base64`).
Each checkpoint is one event, keyed by its `subtag` (the `tag` when AfterShip gives no
subtag). The real carrier is the checkpoint's `slug` (else the tracking's), through the
alias table: `la-poste-colissimo` is `colissimo`, an unknown slug keeps its folded name.
`checkpoint_time` is whatever the courier gave: with an offset, or local without one
(then read in the zone of the checkpoint's country, else UTC).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import status_of
from relais_tracker.adapters.carriers._common import (
    UTC,
    CodeMapping,
    as_list,
    as_object,
    build_event,
    field,
    load_json,
    make_location,
    oldest_first,
    optional_text,
    parse_instant,
    text,
    zone_for,
)
from relais_tracker.adapters.carriers.aliases import carrier_code
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


# Source: AfterShip "Delivery Statuses" (the 9 tags,
# https://www.aftership.com/docs/tracking/2025-01/enum/delivery-statuses).
TAGS: Final[dict[str, CodeMapping]] = {
    "Pending": _m(B.PENDING_UNSPECIFIED),
    "InfoReceived": _m(B.INFO_RECEIVED_UNSPECIFIED),
    "InTransit": _m(B.IN_TRANSIT_UNSPECIFIED),
    "OutForDelivery": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),
    "AttemptFail": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),
    "Delivered": _m(B.DELIVERED_UNSPECIFIED),
    "AvailableForPickup": _m(B.AVAILABLE_FOR_PICKUP_UNSPECIFIED),
    "Exception": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
    "Expired": _m(B.EXPIRED_UNSPECIFIED),
}

# Source: AfterShip "Delivery Sub-statuses"
# (https://www.aftership.com/docs/tracking/enum/delivery-sub-statuses; Delivered_005
# from its 2026-07 version). A subtag not listed here is read by its tag (TAGS).
SUBTAGS: Final[dict[str, CodeMapping]] = {
    "Delivered_001": _m(B.DELIVERED_UNSPECIFIED),  # Delivered
    "Delivered_002": _m(B.PICKED_UP_AT_PICKUP_POINT),  # Picked up by the customer
    "Delivered_003": _m(B.SIGNED_FOR),  # Sign by customer
    "Delivered_004": _m(B.DELIVERED_CASH_ON_DELIVERY),  # ... received cash on delivery
    "Delivered_005": _m(B.DELIVERED_TO_NEIGHBOUR),  # Delivered to neighbor
    "AvailableForPickup_001": _m(B.READY_FOR_PICKUP),  # Available for pickup
    "Exception_001": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),  # Exception
    "Exception_002": _m(B.CUSTOMER_MOVED, R.RECIPIENT_MOVED),  # Customer moved
    "Exception_003": _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED),  # Customer refused
    "Exception_004": _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY),  # Delayed (Customs clearance)
    "Exception_005": _m(B.DELAYED_EXTERNAL, R.FORCE_MAJEURE),  # Delayed (External factors)
    "Exception_006": _m(B.HELD_FOR_PAYMENT, R.RECIPIENT_PAYMENT_DUE),  # Held for payment
    "Exception_007": _m(B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS),
    "Exception_008": _m(B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED),  # Pick up missed
    "Exception_009": _m(B.REJECTED_BY_CARRIER, R.RETAILER_NONCOMPLIANT_SHIPMENT),
    "Exception_010": _m(B.RETURNING_TO_SENDER, R.UNKNOWN),  # Returning to sender
    "Exception_011": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),  # Returned to sender
    "Exception_012": _m(B.DAMAGED, R.CARRIER_DAMAGED_PARCEL),  # Shipment damage
    "Exception_013": _m(B.LOST, R.CARRIER_PARCEL_LOST),  # Shipment lost
    "AttemptFail_001": _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),  # Failed Attempt
    "AttemptFail_002": _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE),  # Addressee not avail.
    "AttemptFail_003": _m(B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED),  # Business closed
    "InfoReceived_001": _m(B.INFO_RECEIVED_UNSPECIFIED),  # Info received
    "InTransit_001": _m(B.IN_TRANSIT_UNSPECIFIED),  # In transit
    "InTransit_002": _m(B.ACCEPTED_BY_CARRIER),  # Acceptance scan
    "InTransit_003": _m(B.ARRIVED_AT_FACILITY),  # Arrival scan
    "InTransit_004": _m(B.ARRIVED_IN_DESTINATION_COUNTRY),  # Arrived at destination country
    "InTransit_005": _m(B.CUSTOMS_CLEARED),  # Customs clearance completed
    "InTransit_006": _m(B.CUSTOMS_CLEARANCE_STARTED),  # Customs clearance started
    "InTransit_007": _m(B.DEPARTED_FACILITY),  # Departure scan
    "InTransit_008": _m(B.PROBLEM_RESOLVED),  # Problem resolved
    "InTransit_009": _m(B.REDIRECTED),  # Forwarded to a different delivery address
    "OutForDelivery_001": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),  # Out for delivery
    "OutForDelivery_003": _m(B.CUSTOMER_CONTACTED),  # Customer contacted
    "OutForDelivery_004": _m(B.DELIVERY_SCHEDULED),  # Delivery appointment scheduled
    "Expired_001": _m(B.EXPIRED_UNSPECIFIED),  # Expired
}

ISO3_TO_ISO2: Final[dict[str, str]] = {
    "AUT": "AT",
    "BEL": "BE",
    "CHE": "CH",
    "DEU": "DE",
    "FRA": "FR",
    "GBR": "GB",
    "IRL": "IE",
    "ITA": "IT",
    "LUX": "LU",
    "NLD": "NL",
    "POL": "PL",
}
"""AfterShip gives ISO 3166 alpha-3 countries; the ones whose zone we know."""


class AftershipAdapter:
    carrier = "aftership"
    default_zone = UTC

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        msg = as_object(field(document, "msg", where="payload"), where="msg")
        tracking_number = text(field(msg, "tracking_number", where="msg"), where="msg")
        slug = optional_text(msg.get("slug"))
        checkpoints = as_list(msg.get("checkpoints") or [], where="msg.checkpoints")
        if not checkpoints:
            raise PayloadError("msg.checkpoints: no checkpoint to read")
        return oldest_first(
            self._event(
                checkpoint,
                tracking_number=tracking_number,
                slug=slug,
                where=f"msg.checkpoints[{index}]",
            )
            for index, checkpoint in enumerate(checkpoints)
        )

    def _event(
        self, value: Any, *, tracking_number: str, slug: str | None, where: str
    ) -> NormalizedEvent:
        raw = as_object(value, where=where)
        tag = optional_text(raw.get("tag"))
        subtag = optional_text(raw.get("subtag"))
        code = subtag or tag
        if code is None:
            raise PayloadError(f"{where}: neither tag nor subtag")
        mapping = SUBTAGS.get(subtag or "") or TAGS.get(tag or "")
        country = ISO3_TO_ISO2.get((optional_text(raw.get("country_iso3")) or "").upper())
        real = _carrier(optional_text(raw.get("slug")) or slug, where=where)
        event = build_event(
            tracking_number=tracking_number,
            carrier_code=code,
            mapping=mapping,
            occurred_at=parse_instant(
                field(raw, "checkpoint_time", where=where),
                zone=zone_for(country, default=self.default_zone),
                where=f"{where}.checkpoint_time",
            ),
            description=optional_text(raw.get("message"))
            or optional_text(raw.get("subtag_message")),
            location=make_location(
                city=raw.get("city"),
                postal_code=raw.get("zip"),
                country=country,
                facility=raw.get("location"),
            ),
        )
        return replace(event, carrier=real)


def _carrier(slug: str | None, *, where: str) -> str:
    code = carrier_code(slug) if slug else None
    if code is None:
        raise PayloadError(f"{where}: no courier slug naming the carrier")
    return code
