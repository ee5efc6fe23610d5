"""DPD Tracking Push Service (DPD Deutschland): one scan per call, sent as the URL
parameters of a request to the subscriber's push URL.

Source: DPD "Tracking Push Service - Schnelleinstieg" (04/2023, the parameters and the
13 status values as quoted in karrio modules/connectors/dpd_meta/SPECS.md "Tracking
Push"): `pushid` (the record id DPD expects back in the acknowledgement), `pnr` (parcel
number), `status`, `statusdate` (ddMMyyyyHHmmss, German local time), `depot`, `ref`,
`receiver`, `services`, `pod`, `weight`.

Accepted payloads: those parameters as a query or form-encoded string (`pushid=...&
pnr=...`, with or without a leading `?` or the URL before it), the same as a JSON object,
or a JSON list of objects (a relay batching pushes). The push carries only the status
code: the event's description is DPD's documented wording for it. Acknowledging the
push with `<push><pushid>...</pushid><status>OK</status></push>` is the webhook
endpoint's business, not this mapper's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import TrackingStatus as S
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    as_object,
    build_event,
    field,
    make_location,
    oldest_first,
    optional_text,
    text,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError

PUSH_ZONE: Final = ZoneInfo("Europe/Berlin")
"""`statusdate` is the local time of DPD Deutschland, which runs the push service."""

# Source: DPD Tracking Push Service (04/2023), URL parameter `status`: its 13 documented
# values with DPD's descriptions. `delivery_nab` ("an NAB scan was triggered") says no
# more than that the parcel moves; `delivery_notification` is a delivery obstacle
# (address clarification and the like) whose reason the push does not give.
PUSH_STATUSES: Final[dict[str, CodeMapping]] = {
    "start_order": (S.INFO_RECEIVED, B.LABEL_CREATED, None),
    "pickup_driver": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),
    "pickup_depot": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),
    "delivery_depot": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),
    "delivery_nab": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),
    "delivery_carload": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),
    "delivery_notification": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
    "delivery_customer": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "delivery_shop": (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None),
    "pickup_by_consignee": (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None),
    "no_pickup_by_consignee": (S.EXCEPTION, B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED),
    "error_pickup": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
    "error_return": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN),
}

_DESCRIPTIONS: Final[dict[str, str]] = {
    "start_order": "Order data were transmitted",
    "pickup_driver": "Parcel was picked up by driver",
    "pickup_depot": "Parcel arrived at pickup depot",
    "delivery_depot": "Parcel arrived at delivery depot",
    "delivery_carload": "Parcel is on the road",
    "delivery_nab": "An NAB scan was triggered",
    "delivery_notification": "Delivery problem / notification was triggered",
    "delivery_customer": "Parcel was delivered to customer",
    "delivery_shop": "Parcel delivery at Pickup parcelshop",
    "pickup_by_consignee": "Parcel was picked up by the consignee at the Pickup parcelshop",
    "no_pickup_by_consignee": "Parcel was not picked up by the consignee",
    "error_pickup": "Pickup problem",
    "error_return": "System return back to sender",
}


def is_push_query(payload: bytes) -> bool:
    """The push parameters as a query or form body (not JSON, not XML)."""
    head = payload.lstrip()[:1]
    return head not in (b"{", b"[", b"<", b"") and b"pnr=" in payload


def is_push_json(document: Any) -> bool:
    """The push parameters as a JSON object (`pnr` and `status`), or a list of them."""
    items = document if isinstance(document, list) else [document]
    return bool(items) and all(
        isinstance(item, dict) and "pnr" in item and "status" in item for item in items
    )


def parse_push_query(payload: bytes) -> list[NormalizedEvent]:
    try:
        query = payload.decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raise PayloadError(f"dpd push: parameters are not UTF-8 text ({error.reason})") from None
    query = query.split("?", 1)[1] if "?" in query else query
    values = {key: items[0] for key, items in parse_qs(query, keep_blank_values=True).items()}
    return [_event(values, where="push")]


def parse_push_json(document: Any) -> list[NormalizedEvent]:
    items = document if isinstance(document, list) else [document]
    return oldest_first(
        _event(as_object(item, where=f"push[{index}]"), where=f"push[{index}]")
        for index, item in enumerate(items)
    )


def _event(values: dict[str, Any], *, where: str) -> NormalizedEvent:
    status = text(field(values, "status", where=where), where=f"{where}.status")
    depot = optional_text(values.get("depot"))
    return build_event(
        tracking_number=text(field(values, "pnr", where=where), where=f"{where}.pnr"),
        carrier_code=status,
        mapping=PUSH_STATUSES.get(status),
        occurred_at=_status_date(field(values, "statusdate", where=where), where=where),
        description=_DESCRIPTIONS.get(status, status),
        location=make_location(facility=f"DPD depot {depot}" if depot else None),
    )


def _status_date(value: Any, *, where: str) -> datetime:
    raw = text(value, where=f"{where}.statusdate")
    try:
        return datetime.strptime(raw, "%d%m%Y%H%M%S").replace(tzinfo=PUSH_ZONE)
    except ValueError:
        raise PayloadError(f"{where}.statusdate: {raw!r} is not ddMMyyyyHHmmss") from None
