"""InPost: the ShipX API (https://api-shipx-pl.easypack24.net/v1/).

Two payloads are read, told apart by their keys:
- tracking (GET /v1/tracking/{tracking_number}): `{tracking_number, service, type,
  status, custom_attributes: {target_machine_id, target_machine_detail: {name,
  location_description, address: {line1, line2}}}, tracking_details: [{status,
  origin_status, agency, datetime}], created_at, updated_at}`, details newest first;
- the ShipX webhook (`{event, event_ts, organization_id, payload: {shipment_id, status,
  tracking_number}}`): `shipment_status_changed` carries the new status,
  `shipment_confirmed` the label (status `confirmed`); other events carry no parcel
  status and are refused.
An error is `{status: 404, error: "resource_not_found", message, details}`.
The status name (`ready_to_pickup`, `avizo`...) is the key; InPost's internal code
(`origin_status`), when given, is kept as `carrier_reason_code`. A parcel handed over at
a Paczkomat locker or a PaczkoPunkt is `picked_up_at_pickup_point`: the service name
(`inpost_locker_standard`) narrows `delivered`. Times carry offsets
(`2026-05-29T12:42:59.000+02:00`, webhook `2026-05-29 12:42:59 +0200`); zone-less ones
are read in Europe/Warsaw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Location, status_of
from relais_contracts.tracking import Substatus as B
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    Refinements,
    as_list,
    as_object,
    build_event,
    field,
    load_json,
    make_location,
    oldest_first,
    optional_text,
    parse_instant,
    resolve,
    sub_object,
    text,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


_ACCEPTED: Final = _m(B.ACCEPTED_BY_CARRIER)
_ARRIVED: Final = _m(B.ARRIVED_AT_FACILITY)
_DEPARTED: Final = _m(B.DEPARTED_FACILITY)
_OUT: Final = _m(B.OUT_FOR_DELIVERY_UNSPECIFIED)
_READY: Final = _m(B.READY_FOR_PICKUP)
_REDIRECTED: Final = _m(B.REDIRECTED)
_WRONG_ADDRESS: Final = _m(B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)
_NO_ACCESS: Final = _m(B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)

# Source: InPost ShipX API, status dictionary (GET /v1/statuses: `name`, `title`,
# `description`; https://dokumentacja-inpost.atlassian.net/wiki/spaces/PL/pages/11731062,
# "Statusy przesyłek"), titles quoted in Polish as InPost publishes them. `other` and
# `missing` have no meaning of their own and stay unknown.
STATUSES: Final[dict[str, CodeMapping]] = {
    "created": _m(B.INFO_RECEIVED_UNSPECIFIED),  # Przesyłka utworzona
    "offers_prepared": _m(B.INFO_RECEIVED_UNSPECIFIED),  # Przygotowano oferty
    "offer_selected": _m(B.INFO_RECEIVED_UNSPECIFIED),  # Oferta wybrana
    "confirmed": _m(B.LABEL_CREATED),  # Przygotowana przez Nadawcę
    "dispatched_by_sender": _ACCEPTED,  # Paczka nadana w automacie Paczkomat
    "dispatched_by_sender_to_pok": _ACCEPTED,  # Nadana w PaczkoPunkcie
    "collected_from_sender": _ACCEPTED,  # Odebrana od klienta
    "taken_by_courier": _ACCEPTED,  # Odebrana przez Kuriera
    "taken_by_courier_from_pok": _ACCEPTED,  # W drodze do oddziału nadawczego InPost
    "adopted_at_source_branch": _ARRIVED,  # Przyjęta w Centrum Logistycznym
    "adopted_at_sorting_center": _ARRIVED,  # Przyjęta w Sortowni
    "adopted_at_target_branch": _ARRIVED,  # Przyjęta w Oddziale Docelowym
    "sent_from_source_branch": _DEPARTED,  # W trasie
    "sent_from_sorting_center": _DEPARTED,  # Wysłana z Sortowni
    "out_for_delivery": _OUT,  # Wydana do doręczenia
    "out_for_delivery_to_address": _OUT,  # W doręczeniu
    "pickup_reminder_sent_address": _OUT,  # W doręczeniu (reminder, courier delivery)
    "ready_to_pickup": _READY,  # Gotowa do odbioru (in the chosen Paczkomat)
    "ready_to_pickup_from_pok": _READY,  # Czeka na odbiór w PaczkoPunkcie
    "ready_to_pickup_from_pok_registered": _READY,  # Czeka na odbiór w PaczkoPunkcie
    "pickup_reminder_sent": _READY,  # Przypomnienie o odbiorze: still waiting
    "stack_in_box_machine": _READY,  # stored in a temporary Paczkomat
    "stack_in_customer_service_point": _READY,  # stored in a PaczkoPunkt
    "courier_avizo_in_customer_service_point": _m(B.HELD_AT_DEPOT),  # after a failed visit
    "ready_to_pickup_from_branch": _m(B.HELD_AT_DEPOT),  # not collected, waits at a branch
    "avizo": _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME),  # Powrót do oddziału (notice)
    "pickup_time_expired": _m(B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED),
    "stack_parcel_pickup_time_expired": _REDIRECTED,  # storage over, to the first locker
    "stack_parcel_in_box_machine_pickup_time_expired": _REDIRECTED,
    "unstack_from_box_machine": _REDIRECTED,  # on its way to the chosen Paczkomat
    "unstack_from_customer_service_point": _REDIRECTED,
    "redirect_to_box": _REDIRECTED,  # Przekierowano do automatu Paczkomat
    "permanently_redirected_to_box_machine": _REDIRECTED,
    "permanently_redirected_to_customer_service_point": _REDIRECTED,
    "readdressed": _REDIRECTED,  # Przekierowano na inny adres
    "canceled_redirect_to_box": _m(B.IN_TRANSIT_UNSPECIFIED),  # redirection cancelled
    "delay_in_delivery": _m(B.DELAYED, R.UNKNOWN),  # Możliwe opóźnienie doręczenia
    "oversized": _m(B.REJECTED_BY_CARRIER, R.RETAILER_INCORRECT_DIMENSIONS),
    "undelivered_wrong_address": _WRONG_ADDRESS,
    "undelivered_unknown_receiver": _WRONG_ADDRESS,
    "undelivered_incomplete_address": _m(B.INCOMPLETE_ADDRESS, R.RECIPIENT_INCOMPLETE_ADDRESS),
    "undelivered_cod_cash_receiver": _m(B.HELD_FOR_PAYMENT, R.RECIPIENT_PAYMENT_DUE),
    "undelivered_no_mailbox": _NO_ACCESS,
    "undelivered_lack_of_access_letterbox": _NO_ACCESS,
    "undelivered_not_live_address": _m(B.CUSTOMER_MOVED, R.RECIPIENT_MOVED),
    "undelivered": _m(B.HELD_BY_CARRIER, R.UNKNOWN),  # to the undeliverable-parcel store
    "rejected_by_receiver": _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED),
    "claimed": _m(B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),  # complaint filed at the locker
    "returned_to_sender": _m(B.RETURNING_TO_SENDER, R.UNKNOWN),  # Zwrot do nadawcy
    "return_pickup_confirmation_to_sender": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),
    "taken_by_courier_from_customer_service_point": _m(B.RETURNED_TO_SENDER, R.UNKNOWN),
    "canceled": _m(B.CANCELLED, R.RETAILER_CANCELLED),  # Anulowano etykietę
    "delivered": _m(B.DELIVERED_UNSPECIFIED),  # Dostarczona
}

# The ShipX service names (`inpost_locker_standard`, `inpost_courier_standard`...),
# folded: a locker or PaczkoPunkt parcel is delivered when the recipient takes it out.
SERVICE_REFINEMENTS: Final[Refinements] = {
    "delivered": (("locker", _m(B.PICKED_UP_AT_PICKUP_POINT)),),
}

PICKUP_STATUSES: Final = frozenset({"ready_to_pickup", "pickup_reminder_sent", "delivered"})
"""Statuses that happen at the target locker: their location is the locker
(`target_machine_detail`: its name, e.g. `KRA010`, and the postcode and city of its
address)."""

_ZONE: Final = ZoneInfo("Europe/Warsaw")
_WEBHOOK_TS: Final = "%Y-%m-%d %H:%M:%S %z"
_WEBHOOK_EVENTS: Final = {"shipment_status_changed": None, "shipment_confirmed": "confirmed"}


class InpostAdapter:
    carrier = "inpost"
    default_zone = _ZONE

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        if "error" in document and "tracking_details" not in document:
            message = optional_text(document.get("message")) or optional_text(document["error"])
            raise PayloadError(f"InPost answered with an error: {message or '?'}")
        if "event" in document:
            return [_webhook_event(document)]
        if "tracking_details" in document:
            return _tracking(document)
        raise PayloadError("payload: no tracking_details and no webhook event (not ShipX)")


def _tracking(document: dict[str, Any]) -> list[NormalizedEvent]:
    tracking_number = text(
        field(document, "tracking_number", where="payload"), where="tracking_number"
    )
    service = optional_text(document.get("service")) or optional_text(document.get("type"))
    locker = _locker(sub_object(document, "custom_attributes"))
    details = as_list(document["tracking_details"], where="tracking_details")
    events = [
        _detail(
            as_object(raw, where=f"tracking_details[{index}]"),
            tracking_number=tracking_number,
            service=service,
            locker=locker,
            where=f"tracking_details[{index}]",
        )
        for index, raw in enumerate(details)
    ]
    if not events:
        raise PayloadError("tracking_details: empty (no scan yet)")
    return oldest_first(reversed(events))


def _detail(
    raw: dict[str, Any],
    *,
    tracking_number: str,
    service: str | None,
    locker: Location | None,
    where: str,
) -> NormalizedEvent:
    status = text(field(raw, "status", where=where), where=f"{where}.status")
    return build_event(
        tracking_number=tracking_number,
        carrier_code=status,
        carrier_reason_code=optional_text(raw.get("origin_status")),
        mapping=resolve(status, table=STATUSES, refinements=SERVICE_REFINEMENTS, texts=[service]),
        occurred_at=parse_instant(
            field(raw, "datetime", where=where), zone=_ZONE, where=f"{where}.datetime"
        ),
        description=None,
        location=locker if status in PICKUP_STATUSES else None,
    )


def _webhook_event(document: dict[str, Any]) -> NormalizedEvent:
    event = text(document["event"], where="event")
    if event not in _WEBHOOK_EVENTS:
        raise PayloadError(f"event {event!r} carries no parcel status")
    body = as_object(field(document, "payload", where="payload"), where="payload.payload")
    status = _WEBHOOK_EVENTS[event] or text(
        field(body, "status", where="payload.payload"), where="payload.status"
    )
    return build_event(
        tracking_number=text(
            field(body, "tracking_number", where="payload.payload"),
            where="payload.tracking_number",
        ),
        carrier_code=status,
        mapping=STATUSES.get(status),
        occurred_at=_event_ts(field(document, "event_ts", where="payload")),
        description=None,
        location=None,
    )


def _event_ts(value: Any) -> datetime:
    raw = text(value, where="event_ts")
    try:
        return datetime.strptime(raw, _WEBHOOK_TS)
    except ValueError:
        return parse_instant(raw, zone=_ZONE, where="event_ts")


def _locker(attributes: dict[str, Any]) -> Location | None:
    detail = sub_object(attributes, "target_machine_detail")
    name = optional_text(detail.get("name")) or optional_text(attributes.get("target_machine_id"))
    if name is None:
        return None
    address = sub_object(detail, "address")
    postal_code, _, city = (optional_text(address.get("line2")) or "").partition(" ")
    return make_location(
        city=city or None, postal_code=postal_code or None, country="PL", facility=name
    )
