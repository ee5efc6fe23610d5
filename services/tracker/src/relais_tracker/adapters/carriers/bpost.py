"""bpost: the Shipping Manager track & trace answer
(GET https://api.parcel.bpost.cloud/services/trackedmail/item/{itemCode}/trackingInfo).

bpost answers in XML (schema `http://schema.post.be/tracking/v1/`, tracking_info_v1.xsd):
`<itemTracking>` with `itemCode`, `deliveryTimeWindow` (`plannedDeliveryDateWindowStart`,
`plannedDeliveryDateWindowEnd`), `stateInfo*` (`time`, `location?`, `stateCode`,
`stateDescription`, oldest first) and `pickupPoint` (`name`, `streetName`,
`houseNumber`, `postalCode`, `city`); several items may come under one wrapper. The
same document as JSON (`{itemTracking: {...}}`, or the bare item) is read too. An error
is a `<businessException>`/`<systemException>` with a `message`. XML is parsed with
defusedxml (relais_tracker.adapters.carriers._xml): no DTD, no entity, no external
reference. The `stateCode` (letter and two digits) is the key, narrowed by the
`stateDescription` bpost gives with it ("DistributedNormally - regular",
"BoundToRound - out_for_distribution"...). Times carry offsets (Europe/Brussels
otherwise).
"""

from __future__ import annotations

from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import DeliveryEstimate, Location, is_final, status_of
from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    Refinements,
    as_object,
    build_event,
    estimate,
    field,
    load_json,
    make_location,
    oldest_first,
    optional_text,
    parse_instant,
    resolve,
    sub_object,
    text,
    with_estimate_on_newest,
)
from relais_tracker.adapters.carriers._xml import local_name, looks_like_xml, parse_xml, to_data
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


def _all(codes: str, mapping: CodeMapping) -> dict[str, CodeMapping]:
    return dict.fromkeys(codes.split(), mapping)


# Source: bpost Shipping Manager trackingInfo `stateCode` groups as karrio maps them
# (modules/connectors/bpost/karrio/providers/bpost/units.py: TrackingStatus and
# TrackingIncidentReason) with the wording of its replayed answer
# (modules/connectors/bpost/tests/bpost/test_tracking.py: T00 "Sorted - sorted_out",
# L00 "BoundToRound - out_for_distribution", U01 "DistributedNormally - regular").
# Karrio files L00 under on_hold although bpost calls it out for distribution, and B04
# both in transit and failed; here L00 is out for delivery and B04 the absent
# addressee of karrio's incident table.
STATE_CODES: Final[dict[str, CodeMapping]] = {
    **_all("R00 R01 R02 R03 R04 R05 N14", _m(B.IN_TRANSIT_UNSPECIFIED)),
    "T00": _m(B.ARRIVED_AT_FACILITY),  # sorted
    "L00": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),  # bound to round: out for distribution
    **_all("U00 U01 U02 U03 U04 U05 U06 U07 U08", _m(B.DELIVERED_UNSPECIFIED)),
    **_all("N74 R13", _m(B.READY_FOR_PICKUP)),
    **_all("B00 B01 B02", _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY)),
    **_all("B03 B23", _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
    **_all("B04 N01 N02", _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)),
    "N03": _m(B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED),
    **_all("B05 B08", _m(B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
    **_all("B06 B07 B09 B10", _m(B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
    **_all("B11 B12 B13 B18 B24 B28", _m(B.HELD_BY_CARRIER, R.UNKNOWN)),
    **_all("R11 R12 T03 S00", _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN)),
    **_all(
        "N04 N05 N06 N07 N08 N10 N11 N12 N13 N16 N28 N32 N91 N92 N93 N94 N95 N96 P00",
        _m(B.DELAYED, R.UNKNOWN),
    ),
    **_all(
        "C00 I03 I10 I11 I12 I18 I19 I58 I61 I66 I67 I68 I72 I88", _m(B.HELD_BY_CARRIER, R.UNKNOWN)
    ),
}

_PICKED_UP: Final = _m(B.PICKED_UP_AT_PICKUP_POINT)
_DELIVERED_REFINEMENTS: Final = (
    ("neighbour", _m(B.DELIVERED_TO_NEIGHBOUR)),
    ("neighbor", _m(B.DELIVERED_TO_NEIGHBOUR)),
    ("mailbox", _m(B.DELIVERED_TO_MAILBOX)),
    ("letterbox", _m(B.DELIVERED_TO_MAILBOX)),
    ("pickup point", _PICKED_UP),
    ("pickuppoint", _PICKED_UP),
    ("parcel locker", _PICKED_UP),
    ("parcellocker", _PICKED_UP),
    ("returned", _m(B.RETURNED_TO_SENDER, R.UNKNOWN)),
    ("sender", _m(B.RETURNED_TO_SENDER, R.UNKNOWN)),
)

# bpost's `stateDescription` ("<EventName> - <detail>", English), folded; the first
# keyword found wins.
DESCRIPTION_REFINEMENTS: Final[Refinements] = {
    code: _DELIVERED_REFINEMENTS
    for code in ("U00", "U02", "U03", "U04", "U05", "U06", "U07", "U08")
} | {
    "R13": (("post office", _m(B.HELD_AT_DEPOT)), ("postoffice", _m(B.HELD_AT_DEPOT))),
}

_AT_PICKUP_POINT: Final = frozenset(
    {B.READY_FOR_PICKUP, B.HELD_AT_DEPOT, B.PICKED_UP_AT_PICKUP_POINT}
)
"""Where `pickupPoint` (the shop, locker or post office) is the event's location."""

_ZONE: Final = ZoneInfo("Europe/Brussels")
_LISTS: Final = frozenset({"stateInfo"})
_ERRORS: Final = frozenset({"businessException", "systemException"})


class BpostAdapter:
    carrier = "bpost"
    default_zone = _ZONE

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        items = _xml_items(payload) if looks_like_xml(payload) else _json_items(payload)
        if not items:
            raise PayloadError("payload: no itemTracking (not a bpost tracking answer)")
        return oldest_first(
            event
            for index, item in enumerate(items)
            for event in _item(item, where=f"itemTracking[{index}]")
        )


def _xml_items(payload: bytes) -> list[Any]:
    root = parse_xml(payload, carrier="bpost")
    name = local_name(root)
    if name in _ERRORS:
        message = to_data(root).get("message") if len(root) else None
        raise PayloadError(f"bpost answered with an error: {name}: {message or 'no message'}")
    if name == "itemTracking":
        return [to_data(root, lists=_LISTS)]
    return [
        to_data(element, lists=_LISTS)
        for element in root.iter()
        if element is not root and local_name(element) == "itemTracking"
    ]


def _json_items(payload: bytes) -> list[Any]:
    document = as_object(load_json(payload, carrier="bpost"), where="payload")
    for name in _ERRORS:
        if name in document:
            error = sub_object(document, name)
            message = optional_text(error.get("message")) or "no message"
            raise PayloadError(f"bpost answered with an error: {name}: {message}")
    if "stateInfo" in document:
        return [document]
    value = document.get("itemTracking")
    if isinstance(value, list):
        return value
    return [value] if value is not None else []


def _item(value: Any, *, where: str) -> list[NormalizedEvent]:
    item = as_object(value, where=where)
    item_code = text(field(item, "itemCode", where=where), where=f"{where}.itemCode")
    states = item.get("stateInfo")
    raw_states = states if isinstance(states, list) else [states] if states else []
    if not raw_states:
        raise PayloadError(f"{where}.stateInfo: missing")
    pickup = _pickup_point(sub_object(item, "pickupPoint"))
    events = oldest_first(
        _state(raw, item_code=item_code, pickup=pickup, where=f"{where}.stateInfo[{index}]")
        for index, raw in enumerate(raw_states)
    )
    if is_final(events[-1].substatus):
        return events
    return with_estimate_on_newest(events, _estimate(sub_object(item, "deliveryTimeWindow")))


def _state(value: Any, *, item_code: str, pickup: Location | None, where: str) -> NormalizedEvent:
    raw = as_object(value, where=where)
    code = text(field(raw, "stateCode", where=where), where=f"{where}.stateCode")
    description = optional_text(raw.get("stateDescription"))
    mapping = resolve(
        code, table=STATE_CODES, refinements=DESCRIPTION_REFINEMENTS, texts=[description]
    )
    at_pickup_point = mapping is not None and mapping[1] in _AT_PICKUP_POINT
    return build_event(
        tracking_number=item_code,
        carrier_code=code,
        mapping=mapping,
        occurred_at=parse_instant(field(raw, "time", where=where), zone=_ZONE, where=where),
        description=description,
        location=pickup if at_pickup_point else make_location(facility=raw.get("location")),
    )


def _pickup_point(point: dict[str, Any]) -> Location | None:
    name = optional_text(point.get("name"))
    if name is None:
        return None
    return make_location(
        city=point.get("city"), postal_code=point.get("postalCode"), country="BE", facility=name
    )


def _estimate(window: dict[str, Any]) -> DeliveryEstimate | None:
    start_raw = optional_text(window.get("plannedDeliveryDateWindowStart"))
    if start_raw is None:
        return None
    start = parse_instant(start_raw, zone=_ZONE, where="plannedDeliveryDateWindowStart")
    end_raw = optional_text(window.get("plannedDeliveryDateWindowEnd"))
    end = (
        parse_instant(end_raw, zone=_ZONE, where="plannedDeliveryDateWindowEnd")
        if end_raw
        else None
    )
    return estimate(day=start.astimezone(_ZONE).date(), start=start, end=end)
