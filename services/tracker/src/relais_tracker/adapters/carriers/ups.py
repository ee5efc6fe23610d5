"""UPS: the Track API (GET https://onlinetools.ups.com/api/track/v1/details/{number})
and the Track Alert webhook body (ups_alert), told apart by their top-level keys.

Track API shape: `{trackResponse: {shipment: [{package: [{trackingNumber, deliveryDate:
[{type, date}], deliveryTime: {startTime, endTime}, deliveryInformation?: {location},
activity: [{date: YYYYMMDD, time: HHMMSS, gmtDate?, gmtTime?, gmtOffset?, location:
{address: {city, postalCode, countryCode}}, status: {type, code, description,
statusCode}}]}], warnings?}]}}`; an error is `{response: {errors: [{code, message}]}}`.
`date`/`time` are the local time of the scan without a zone: `gmtOffset` gives it when
present, else the zone of the scan's country when it has one, else America/New_York
(UPS's documented default for US-origin tracking). Each activity is resolved by
ups_codes.activity_mapping: its `code` in the appendix table of its `type`, else its
three-digit `statusCode`, else its `type` narrowed on the description.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import DeliveryEstimate
from relais_tracker.adapters.carriers._common import (
    as_list,
    as_object,
    build_event,
    estimate,
    field,
    load_json,
    make_location,
    oldest_first,
    optional_text,
    parse_day,
    parse_local,
    sub_object,
    text,
    window_on,
    with_estimate_on_newest,
    zone_for,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError
from relais_tracker.adapters.carriers.ups_alert import is_alert, parse_alerts
from relais_tracker.adapters.carriers.ups_codes import activity_mapping

_DEFAULT_ZONE: Final = ZoneInfo("America/New_York")


class UpsAdapter:
    carrier = "ups"
    default_zone = _DEFAULT_ZONE

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = load_json(payload, carrier=self.carrier)
        if is_alert(document):
            return parse_alerts(document, default_zone=self.default_zone)
        document = as_object(document, where="payload")
        if "trackResponse" not in document:
            raise PayloadError(_error_of(document) or "payload: no trackResponse nor Track Alert")
        response = as_object(document["trackResponse"], where="trackResponse")
        shipments = as_list(field(response, "shipment", where="trackResponse"), where="shipment")
        events: list[NormalizedEvent] = []
        warnings: list[str] = []
        for s_index, raw_shipment in enumerate(shipments):
            shipment = as_object(raw_shipment, where=f"shipment[{s_index}]")
            warnings.extend(_messages(shipment.get("warnings")))
            for p_index, package in enumerate(
                as_list(shipment.get("package") or [], where="package")
            ):
                events.extend(
                    self._package(package, where=f"shipment[{s_index}].package[{p_index}]")
                )
        if not events and warnings:
            raise PayloadError(f"UPS answered with a warning: {warnings[0]}")
        return oldest_first(events)

    def _package(self, value: Any, *, where: str) -> list[NormalizedEvent]:
        package = as_object(value, where=where)
        tracking_number = text(field(package, "trackingNumber", where=where), where=where)
        activities = as_list(package.get("activity") or [], where=f"{where}.activity")
        delivery = package.get("deliveryInformation")
        left_at = optional_text(delivery.get("location")) if isinstance(delivery, dict) else None
        events = oldest_first(
            reversed(
                [
                    self._event(
                        raw,
                        tracking_number=tracking_number,
                        left_at=left_at,
                        where=f"{where}.activity[{i}]",
                    )
                    for i, raw in enumerate(activities)
                ]
            )
        )
        zone = _zone_of(activities[0] if activities else None)
        return with_estimate_on_newest(events, _estimate(package, zone=zone, where=where))

    def _event(
        self, value: Any, *, tracking_number: str, left_at: str | None, where: str
    ) -> NormalizedEvent:
        """`left_at` (deliveryInformation.location: "Front Door", "Neighbor"...) narrows
        the delivery scan."""
        raw = as_object(value, where=where)
        status = as_object(field(raw, "status", where=where), where=f"{where}.status")
        code = text(field(status, "type", where=f"{where}.status"), where=f"{where}.status.type")
        description = optional_text(status.get("description"))
        activity_code = optional_text(status.get("code"))
        address = _address(raw)
        return build_event(
            tracking_number=tracking_number,
            carrier_code=code,
            carrier_reason_code=activity_code,
            mapping=activity_mapping(
                code,
                activity_code,
                optional_text(status.get("statusCode")),
                [description, left_at if code == "D" else None],
            ),
            occurred_at=_occurred_at(raw, where=where),
            description=description,
            location=make_location(
                city=address.get("city"),
                postal_code=address.get("postalCode"),
                country=address.get("countryCode") or address.get("country"),
            ),
        )


def _address(activity: dict[str, Any]) -> dict[str, Any]:
    location = activity.get("location")
    if isinstance(location, dict) and isinstance(location.get("address"), dict):
        address: dict[str, Any] = location["address"]
        return address
    return {}


def _zone_of(activity: Any) -> ZoneInfo:
    address = _address(activity) if isinstance(activity, dict) else {}
    return zone_for(optional_text(address.get("countryCode")), default=_DEFAULT_ZONE)


def _occurred_at(activity: dict[str, Any], *, where: str) -> datetime:
    date, clock = field(activity, "date", where=where), field(activity, "time", where=where)
    offset = optional_text(activity.get("gmtOffset"))
    local = parse_local(
        date,
        clock,
        day_format="%Y%m%d",
        clock_format="%H%M%S",
        zone=_zone_of(activity),
        where=where,
    )
    if offset is None:
        return local
    return local.replace(tzinfo=_fixed_offset(offset, where=f"{where}.gmtOffset"))


def _fixed_offset(value: str, *, where: str) -> timezone:
    sign = -1 if value.startswith("-") else 1
    try:
        hours, minutes = value.lstrip("+-").split(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    except ValueError:
        raise PayloadError(f"{where}: {value!r} is not an offset like -05:00") from None


def _estimate(package: dict[str, Any], *, zone: ZoneInfo, where: str) -> DeliveryEstimate | None:
    dates = {
        optional_text(item.get("type")): item.get("date")
        for item in package.get("deliveryDate") or []
        if isinstance(item, dict)
    }
    if "DEL" in dates:
        return None
    raw_day = dates.get("RDD") or dates.get("SDD")
    if not raw_day:
        return None
    day = parse_day(raw_day, day_format="%Y%m%d", where=f"{where}.deliveryDate")
    window = sub_object(package, "deliveryTime")
    start, end = window_on(
        day,
        start=_clock(window.get("startTime")),
        end=_clock(window.get("endTime")),
        zone=zone,
    )
    return estimate(day=day, start=start, end=end)


def _clock(value: Any) -> Any:
    raw = optional_text(value)
    if raw is None or raw == "000000":
        return None
    try:
        return datetime.strptime(raw, "%H%M%S").time()
    except ValueError:
        return None


def _messages(value: Any) -> list[str]:
    items = value if isinstance(value, list) else []
    return [
        f"{item.get('code', '?')}: {item.get('message', 'no message')}"
        for item in items
        if isinstance(item, dict)
    ]


def _error_of(document: dict[str, Any]) -> str | None:
    response = document.get("response")
    errors = _messages(response.get("errors")) if isinstance(response, dict) else []
    return f"UPS answered with an error: {errors[0]}" if errors else None
