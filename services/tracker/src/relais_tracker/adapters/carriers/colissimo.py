"""La Poste / Colissimo: the Suivi v2 JSON (GET https://api.laposte.fr/suivi/v2/idships/{id}).

Shape: one object, or a list of objects (several idShip), each
`{returnCode, returnMessage?, shipment: {idShip, isFinal, event: [{code, label, date}],
timeline, contextData, estimDate?}}`; `event` is listed newest first and its `date`
carries an offset. Suivi v2 codes are coarse (19 of them): the label, in the
language asked for, says why a parcel was not delivered or to whom it was handed,
so `LABEL_REFINEMENTS` narrows a few codes on La Poste's standard wording.
"""

from __future__ import annotations

from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import TrackingStatus as S
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    Refinements,
    as_list,
    as_object,
    build_event,
    estimate,
    field,
    load_json,
    oldest_first,
    optional_text,
    parse_instant,
    resolve,
    text,
    with_estimate_on_newest,
)
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError

# Source: La Poste Open API, Suivi v2, "Liste des codes événements"
# (https://developer.laposte.fr/products/suivi/2/documentation); the same 19 codes are
# listed in karrio modules/connectors/laposte/SPECS.md, which maps only DI1, MD2 and ET1.
CODES: Final[dict[str, CodeMapping]] = {
    "DR1": (S.INFO_RECEIVED, B.LABEL_CREATED, None),  # Déclaratif réceptionné
    "PC1": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Pris en charge
    "PC2": (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None),  # Pris en charge dans le pays d'expédition
    "ET1": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # En cours de traitement
    "ET2": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # ... dans le pays d'expédition
    "ET3": (S.IN_TRANSIT, B.ARRIVED_IN_DESTINATION_COUNTRY, None),  # ... pays de destination
    "ET4": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),  # ... dans un pays de transit
    "EP1": (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None),  # En attente de présentation
    "DO1": (S.IN_TRANSIT, B.CUSTOMS_CLEARANCE_STARTED, None),  # Entrée en douane
    "DO2": (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None),  # Sortie de douane
    "DO3": (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY),  # Retenu en douane
    "PB1": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),  # Problème en cours
    "PB2": (S.IN_TRANSIT, B.PROBLEM_RESOLVED, None),  # Problème résolu
    "MD2": (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None),  # Mis en distribution
    "ND1": (S.FAILED_ATTEMPT, B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN),  # Non distribuable
    "AG1": (S.AVAILABLE_FOR_PICKUP, B.AVAILABLE_FOR_PICKUP_UNSPECIFIED, None),  # À retirer
    "RE1": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN),  # Retourné à l'expéditeur
    "DI1": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),  # Distribué
    "DI2": (S.EXCEPTION, B.RETURNED_TO_SENDER, R.UNKNOWN),  # Distribué à l'expéditeur
}

_ABSENT: Final = (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)
_INCOMPLETE: Final = (S.EXCEPTION, B.INCOMPLETE_ADDRESS, R.RECIPIENT_INCOMPLETE_ADDRESS)
_INCORRECT: Final = (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)
_MOVED: Final = (S.EXCEPTION, B.CUSTOMER_MOVED, R.RECIPIENT_MOVED)
_REFUSED: Final = (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)
_DAMAGED: Final = (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)
_ACCESS: Final = (S.FAILED_ATTEMPT, B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED)
_CLOSED: Final = (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)
_WEATHER: Final = (S.EXCEPTION, B.DELAYED_WEATHER, R.WEATHER_DELAY)
_STRIKE: Final = (S.EXCEPTION, B.DELAYED_EXTERNAL, R.FORCE_MAJEURE)
_RESEARCHED: Final = (S.EXCEPTION, B.HELD_BY_CARRIER, R.PARCEL_BEING_RESEARCHED)
_LATE: Final = (S.EXCEPTION, B.DELAYED_PROCESSING, R.CARRIER_PROCESSING_DELAY)
_READY: Final = (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)
_AT_POST_OFFICE: Final = (S.AVAILABLE_FOR_PICKUP, B.HELD_AT_DEPOT, None)
_NOT_COLLECTED: Final = (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RECIPIENT_PICKUP_MISSED)
_PICKED_UP: Final = (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)
_MAILBOX: Final = (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)
_NEIGHBOUR: Final = (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)
_RECEPTION: Final = (S.DELIVERED, B.DELIVERED_TO_RECEPTION, None)

# La Poste's standard labels (fr_FR and en_US, as returned by Suivi v2 for these codes),
# folded to lower case without accents; the first keyword found wins. An AG1 parcel
# waits at the pickup point or locker the customer chose (ready for pickup) or, after a
# failed attempt, at the post office (held at depot).
LABEL_REFINEMENTS: Final[Refinements] = {
    "ND1": (
        ("absent", _ABSENT),
        ("not at home", _ABSENT),
        ("incomplet", _INCOMPLETE),
        ("demenage", _MOVED),
        ("n'habite pas", _MOVED),
        ("has moved", _MOVED),
        ("no longer lives", _MOVED),
        ("adresse", _INCORRECT),
        ("address", _INCORRECT),
        ("refus", _REFUSED),
        ("endommage", _DAMAGED),
        ("damaged", _DAMAGED),
        ("acces", _ACCESS),
        ("ferme", _CLOSED),
        ("closed", _CLOSED),
    ),
    "PB1": (
        ("endommage", _DAMAGED),
        ("abime", _DAMAGED),
        ("damaged", _DAMAGED),
        ("intemperies", _WEATHER),
        ("meteo", _WEATHER),
        ("weather", _WEATHER),
        ("greve", _STRIKE),
        ("strike", _STRIKE),
        ("incomplet", _INCOMPLETE),
        ("adresse", _INCORRECT),
        ("address", _INCORRECT),
        ("recherche", _RESEARCHED),
        ("search", _RESEARCHED),
        ("retard", _LATE),
        ("delay", _LATE),
    ),
    "DO3": (
        ("droits", (S.EXCEPTION, B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID)),
        ("taxes", (S.EXCEPTION, B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID)),
        ("duties", (S.EXCEPTION, B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID)),
        ("document", (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DOCUMENTATION)),
        ("interdit", (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_PROHIBITED)),
        ("prohibited", (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_PROHIBITED)),
    ),
    "AG1": (
        ("point de retrait", _READY),
        ("point relais", _READY),
        ("consigne", _READY),
        ("pickup point", _READY),
        ("pickup station", _READY),
        ("locker", _READY),
        ("bureau de poste", _AT_POST_OFFICE),
        ("post office", _AT_POST_OFFICE),
    ),
    "RE1": (
        ("refus", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RECIPIENT_REFUSED)),
        ("non reclame", _NOT_COLLECTED),
        ("non retire", _NOT_COLLECTED),
        ("delai de retrait", _NOT_COLLECTED),
        ("not collected", _NOT_COLLECTED),
        ("uncollected", _NOT_COLLECTED),
        ("adresse", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("address", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RECIPIENT_INCORRECT_ADDRESS)),
        ("endommage", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.CARRIER_DAMAGED_PARCEL)),
        ("damaged", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.CARRIER_DAMAGED_PARCEL)),
        (
            "demande de l'expediteur",
            (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RETAILER_REQUESTED_RETURN),
        ),
        ("sender's request", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RETAILER_REQUESTED_RETURN)),
    ),
    "DI1": (
        ("endommage", (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
        ("damaged", (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
        ("boite aux lettres", _MAILBOX),
        ("mailbox", _MAILBOX),
        ("letter box", _MAILBOX),
        ("letterbox", _MAILBOX),
        ("voisin", _NEIGHBOUR),
        ("neighbour", _NEIGHBOUR),
        ("neighbor", _NEIGHBOUR),
        ("gardien", _RECEPTION),
        ("accueil", _RECEPTION),
        ("caretaker", _RECEPTION),
        ("concierge", _RECEPTION),
        ("reception", _RECEPTION),
        ("retire", _PICKED_UP),
        ("point de retrait", _PICKED_UP),
        ("collected", _PICKED_UP),
        ("picked up", _PICKED_UP),
        ("contre signature", (S.DELIVERED, B.SIGNED_FOR, None)),
        ("against signature", (S.DELIVERED, B.SIGNED_FOR, None)),
        ("en main propre", (S.DELIVERED, B.DELIVERED_TO_RECIPIENT, None)),
        ("in person", (S.DELIVERED, B.DELIVERED_TO_RECIPIENT, None)),
    ),
}

_OK_CODES: Final = range(200, 300)


class ColissimoAdapter:
    carrier = "colissimo"
    default_zone = ZoneInfo("Europe/Paris")

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = load_json(payload, carrier=self.carrier)
        responses = document if isinstance(document, list) else [document]
        events: list[NormalizedEvent] = []
        errors: list[str] = []
        for index, response in enumerate(responses):
            where = f"response[{index}]" if isinstance(document, list) else "response"
            item = as_object(response, where=where)
            error = _error_of(item)
            if error is not None:
                errors.append(error)
                continue
            events.extend(self._shipment(field(item, "shipment", where=where), where=where))
        if errors and not events:
            raise PayloadError(f"La Poste answered with an error: {errors[0]}")
        return events

    def _shipment(self, value: Any, *, where: str) -> list[NormalizedEvent]:
        shipment = as_object(value, where=f"{where}.shipment")
        tracking_number = text(field(shipment, "idShip", where=f"{where}.shipment"), where="idShip")
        raw_events = as_list(
            field(shipment, "event", where=f"{where}.shipment"), where=f"{where}.shipment.event"
        )
        events = oldest_first(
            reversed(
                [
                    self._event(raw, tracking_number=tracking_number, where=f"event[{i}]")
                    for i, raw in enumerate(raw_events)
                ]
            )
        )
        return with_estimate_on_newest(events, self._estimate(shipment))

    def _event(self, value: Any, *, tracking_number: str, where: str) -> NormalizedEvent:
        raw = as_object(value, where=where)
        code = text(field(raw, "code", where=where), where=f"{where}.code")
        label = optional_text(raw.get("label"))
        return build_event(
            tracking_number=tracking_number,
            carrier_code=code,
            mapping=resolve(code, table=CODES, refinements=LABEL_REFINEMENTS, texts=[label]),
            occurred_at=parse_instant(
                field(raw, "date", where=where), zone=self.default_zone, where=f"{where}.date"
            ),
            description=label,
            location=None,
        )

    def _estimate(self, shipment: dict[str, Any]) -> Any:
        if shipment.get("isFinal") or not shipment.get("estimDate"):
            return None
        moment = parse_instant(shipment["estimDate"], zone=self.default_zone, where="estimDate")
        return estimate(day=moment.astimezone(self.default_zone).date())


def _error_of(item: dict[str, Any]) -> str | None:
    code = item.get("returnCode")
    if isinstance(code, int | str) and str(code).isdigit() and int(code) in _OK_CODES:
        return None
    if code is None and "shipment" in item:
        return None
    message = optional_text(item.get("returnMessage")) or optional_text(item.get("message"))
    return f"returnCode {code}: {message or 'no message'}"
