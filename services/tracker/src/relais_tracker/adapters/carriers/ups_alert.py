"""UPS Track Alert: the body UPS POSTs to a subscriber's webhook for each new activity of a
subscribed package (Track Alert API v1/v2, webhook `TrackingEvent`, request body
`TrackingEventRequest`: UPS-API/api-documentation UPSTrackAlert.yaml; the same body as
UPS gave it in UPS-API/api-documentation issue #41).

Shape: one activity per body, `{trackingNumber, localActivityDate: YYYYMMDD,
localActivityTime: HHMMSS, gmtActivityDate, gmtActivityTime, gmtOffset?: "-04.00",
activityLocation: {city, stateProvince, postalCode, country}, activityStatus: {type,
code, description, descriptionCode?}, scheduledDeliveryDate?, actualDeliveryDate?,
actualDeliveryTime?, deliveryStartTime?, deliveryEndTime?, deliveryTimeDescription?}`
("not every field will have a value": empty strings are absent). A JSON list of such
bodies is read as one batch.

Times: the local date and time keep the offset UPS used, taken from the difference with
the GMT date and time, else from `gmtOffset`, else the zone of the activity's country,
else America/New_York; a body with only the GMT time is read in UTC.
The activity is resolved by ups_codes.activity_mapping (as a Track API activity:
`descriptionCode` plays `statusCode`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import DeliveryEstimate
from relais_tracker.adapters.carriers._common import (
    as_object,
    build_event,
    estimate,
    field,
    make_location,
    oldest_first,
    optional_text,
    parse_day,
    text,
    with_estimate_on_newest,
    zone_for,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError
from relais_tracker.adapters.carriers.ups_codes import activity_mapping

_OFFSET: Final = re.compile(r"^(?P<sign>[+-])(?P<hours>\d{2})[.:]?(?P<minutes>\d{2})$")
_MAX_OFFSET: Final = timedelta(hours=14)
_MINUTE: Final = timedelta(minutes=1)


def is_alert(document: Any) -> bool:
    """A Track Alert body (or a list of them): `trackingNumber` beside `activityStatus`."""
    items = document if isinstance(document, list) else [document]
    return bool(items) and all(
        isinstance(item, dict) and "activityStatus" in item and "trackingNumber" in item
        for item in items
    )


def parse_alerts(document: Any, *, default_zone: ZoneInfo) -> list[NormalizedEvent]:
    """The events of one Track Alert body or a list of them, oldest first."""
    items = [
        as_object(item, where=f"alert[{index}]")
        for index, item in enumerate(document if isinstance(document, list) else [document])
    ]
    events = [
        _event(item, default_zone=default_zone, where=f"alert[{index}]")
        for index, item in enumerate(items)
    ]
    newest = max(range(len(events)), key=lambda index: (events[index].occurred_at, index))
    return with_estimate_on_newest(
        oldest_first(events), _estimate(items[newest], occurred_at=events[newest].occurred_at)
    )


def _event(body: dict[str, Any], *, default_zone: ZoneInfo, where: str) -> NormalizedEvent:
    status = as_object(field(body, "activityStatus", where=where), where=f"{where}.activityStatus")
    kind = text(field(status, "type", where=f"{where}.activityStatus"), where=f"{where}.type")
    code = optional_text(status.get("code"))
    description = optional_text(status.get("description"))
    place = body.get("activityLocation")
    place = place if isinstance(place, dict) else {}
    country = optional_text(place.get("country"))
    occurred_at = _occurred_at(body, zone=zone_for(country, default=default_zone), where=where)
    return build_event(
        tracking_number=text(field(body, "trackingNumber", where=where), where=where),
        carrier_code=kind,
        carrier_reason_code=code,
        mapping=activity_mapping(
            kind, code, optional_text(status.get("descriptionCode")), [description]
        ),
        occurred_at=occurred_at,
        description=description,
        location=make_location(
            city=place.get("city"), postal_code=place.get("postalCode"), country=country
        ),
    )


def _occurred_at(body: dict[str, Any], *, zone: ZoneInfo, where: str) -> datetime:
    local = _moment(body, "localActivityDate", "localActivityTime", where=where)
    gmt = _moment(body, "gmtActivityDate", "gmtActivityTime", where=where)
    if local is not None and gmt is not None:
        offset = local - gmt
        if abs(offset) <= _MAX_OFFSET:
            return local.replace(tzinfo=timezone(timedelta(minutes=round(offset / _MINUTE))))
    if local is not None:
        offset_text = optional_text(body.get("gmtOffset"))
        return local.replace(tzinfo=_offset(offset_text, where=where) if offset_text else zone)
    if gmt is not None:
        return gmt.replace(tzinfo=UTC)
    raise PayloadError(f"{where}: no localActivityDate/Time nor gmtActivityDate/Time")


def _moment(body: dict[str, Any], day_key: str, clock_key: str, *, where: str) -> datetime | None:
    """A zone-less date and time (YYYYMMDD, HHMMSS; UPS may drop the leading zero)."""
    day, clock = optional_text(body.get(day_key)), optional_text(body.get(clock_key))
    if day is None or clock is None:
        return None
    try:
        return datetime.strptime(f"{day} {clock.zfill(6)}", "%Y%m%d %H%M%S")
    except ValueError:
        raise PayloadError(
            f"{where}.{day_key}/{clock_key}: {day!r} {clock!r} is not YYYYMMDD HHMMSS"
        ) from None


def _offset(value: str, *, where: str) -> timezone:
    match = _OFFSET.match(value)
    if match is None:
        raise PayloadError(f"{where}.gmtOffset: {value!r} is not an offset like -04.00")
    sign = -1 if match["sign"] == "-" else 1
    delta = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"]))
    if delta > _MAX_OFFSET:
        raise PayloadError(f"{where}.gmtOffset: {value!r} is out of range")
    return timezone(sign * delta)


def _estimate(body: dict[str, Any], *, occurred_at: datetime) -> DeliveryEstimate | None:
    """The scheduled delivery day and window, until the package is delivered."""
    raw_day = optional_text(body.get("scheduledDeliveryDate"))
    if optional_text(body.get("actualDeliveryDate")) or raw_day is None:
        return None
    day = parse_day(raw_day, day_format="%Y%m%d", where="scheduledDeliveryDate")
    start, end = _clock(body.get("deliveryStartTime")), _clock(body.get("deliveryEndTime"))
    if start is None or end is None:
        return estimate(day=day)
    return estimate(
        day=day,
        start=datetime.combine(day, start, tzinfo=occurred_at.tzinfo),
        end=datetime.combine(day, end, tzinfo=occurred_at.tzinfo),
    )


def _clock(value: Any) -> time | None:
    raw = optional_text(value)
    if raw is None or raw.strip("0") == "":
        return None
    try:
        return datetime.strptime(raw.zfill(6), "%H%M%S").time()
    except ValueError:
        return None
