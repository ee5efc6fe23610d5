"""Correos (Spain): the shipment locator answer
(GET https://api1.correos.es/digital-services/searchengines/api/v1/envios?text=...).

Shape: `{shipment: [{shipmentCode, error?: {errorCode, errorDesc}, events: [{eventDate:
dd/mm/yyyy, eventTime: HH:MM:SS, phase, colour, summaryText, extendedText}]}]}`, events
oldest first, times Spanish local time without a zone (read in Europe/Madrid: the
Canary Islands' hour is not told apart). Correos publishes its locator as four phases
(1 PRE-ADMISIÓN, 2 EN CAMINO, 3 EN ENTREGA, 4 ENTREGADO): the phase is the key, and the
event's Spanish `summaryText`/`extendedText` narrows it (an attempt, an office hold,
customs, a return). An unknown number answers with an empty body or a shipment whose
`error.errorCode` is not "0".
"""

from __future__ import annotations

from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import status_of
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    Refinements,
    as_list,
    as_object,
    build_event,
    field,
    load_json,
    oldest_first,
    optional_text,
    parse_local,
    resolve,
    text,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


def _m(substatus: B, reason: R | None = None) -> CodeMapping:
    return (status_of(substatus), substatus, reason)


# Source: Correos shipment locator (https://www.correos.es/es/es/herramientas/localizador),
# the four phases it shows for every event (`phase` 1 to 4).
PHASES: Final[dict[str, CodeMapping]] = {
    "1": _m(B.LABEL_CREATED),  # PRE-ADMISIÓN
    "2": _m(B.IN_TRANSIT_UNSPECIFIED),  # EN CAMINO
    "3": _m(B.OUT_FOR_DELIVERY_UNSPECIFIED),  # EN ENTREGA
    "4": _m(B.DELIVERED_UNSPECIFIED),  # ENTREGADO
}

_ABSENT: Final = _m(B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)
_FAILED: Final = _m(B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN)
_RETURNING: Final = _m(B.RETURNING_TO_SENDER, R.UNKNOWN)

# Correos's event wording (Spanish, folded), as read by public locator clients
# (e.g. "Alta en la unidad de reparto", "Entregado", "intento de entrega", "ausente",
# "en reparto", "despachado de aduanas", "llegada a España", "admitido",
# "prerregistrado"); the first keyword found wins.
TEXT_REFINEMENTS: Final[Refinements] = {
    "2": (
        ("devuel", _RETURNING),
        ("devolucion", _RETURNING),
        ("despachado de aduana", _m(B.CUSTOMS_CLEARED)),
        ("retenido en aduana", _m(B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY)),
        ("pendiente de pago", _m(B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID)),
        ("aduana", _m(B.CUSTOMS_CLEARANCE_STARTED)),
        ("llegada a espana", _m(B.ARRIVED_IN_DESTINATION_COUNTRY)),
        ("admitido", _m(B.ACCEPTED_BY_CARRIER)),
        ("admision", _m(B.ACCEPTED_BY_CARRIER)),
        ("clasificado", _m(B.ARRIVED_AT_FACILITY)),
        ("centro logistico", _m(B.ARRIVED_AT_FACILITY)),
    ),
    "3": (
        ("ausente", _ABSENT),
        ("direccion incorrecta", _m(B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("desconocido", _m(B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("rehusado", _m(B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
        ("no se ha podido entregar", _FAILED),
        ("intento de entrega", _FAILED),
        ("citypaq", _m(B.READY_FOR_PICKUP)),
        ("disponible para recoger", _m(B.HELD_AT_DEPOT)),
        ("en oficina", _m(B.HELD_AT_DEPOT)),
        ("en reparto", _m(B.OUT_FOR_DELIVERY_UNSPECIFIED)),
        ("unidad de reparto", _m(B.ARRIVED_AT_FACILITY)),
    ),
    "4": (
        ("remitente", _m(B.RETURNED_TO_SENDER, R.UNKNOWN)),
        ("citypaq", _m(B.PICKED_UP_AT_PICKUP_POINT)),
        ("en oficina", _m(B.PICKED_UP_AT_PICKUP_POINT)),
    ),
}

_ZONE: Final = ZoneInfo("Europe/Madrid")
_NO_ERROR: Final = "0"


class CorreosAdapter:
    carrier = "correos"
    default_zone = _ZONE

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        if not payload.strip():
            raise PayloadError("Correos answered with an empty body (unknown shipment)")
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
        shipments = as_list(field(document, "shipment", where="payload"), where="shipment")
        events: list[NormalizedEvent] = []
        errors: list[str] = []
        for index, value in enumerate(shipments):
            shipment = as_object(value, where=f"shipment[{index}]")
            error = _error_of(shipment)
            if error is not None:
                errors.append(error)
                continue
            events.extend(_shipment(shipment, where=f"shipment[{index}]"))
        if not events:
            raise PayloadError(
                f"Correos answered with no event: {errors[0] if errors else 'no shipment'}"
            )
        return oldest_first(events)


def _shipment(shipment: dict[str, Any], *, where: str) -> list[NormalizedEvent]:
    code = text(field(shipment, "shipmentCode", where=where), where=f"{where}.shipmentCode")
    raw_events = as_list(field(shipment, "events", where=where), where=f"{where}.events")
    return [
        _event(raw, tracking_number=code, where=f"{where}.events[{index}]")
        for index, raw in enumerate(raw_events)
    ]


def _event(value: Any, *, tracking_number: str, where: str) -> NormalizedEvent:
    raw = as_object(value, where=where)
    phase = text(field(raw, "phase", where=where), where=f"{where}.phase")
    summary = optional_text(raw.get("summaryText"))
    extended = optional_text(raw.get("extendedText"))
    return build_event(
        tracking_number=tracking_number,
        carrier_code=phase,
        mapping=resolve(
            phase, table=PHASES, refinements=TEXT_REFINEMENTS, texts=[summary, extended]
        ),
        occurred_at=parse_local(
            field(raw, "eventDate", where=where),
            raw.get("eventTime") or "00:00:00",
            day_format="%d/%m/%Y",
            clock_format="%H:%M:%S",
            zone=_ZONE,
            where=where,
        ),
        description=summary or extended,
        location=None,
    )


def _error_of(shipment: dict[str, Any]) -> str | None:
    error = shipment.get("error")
    if not isinstance(error, dict):
        return None
    code = optional_text(error.get("errorCode"))
    if code is None or code == _NO_ERROR:
        return None
    return f"{code}: {optional_text(error.get('errorDesc')) or 'no description'}"
