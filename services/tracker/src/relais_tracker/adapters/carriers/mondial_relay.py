"""Mondial Relay: the tracing web service `WSI2_TracingColisDetaille`, in JSON form.

Shape: `{Expedition, STAT, Libelle01?, Relais_Libelle?, Relais_Num?, Tracing: [L] |
{ret_WSI2_sub_TracingColisDetaille: [L]}}` with L = `{Libelle, Date: dd/mm/yy,
Heure: HH:MM, Emplacement, Relais_Num, Relais_Pays}`, oldest first. Mondial Relay's
answer does not repeat the shipment number: the caller (webhook relay or poller)
adds it as `Expedition`. Tracing lines carry no code: their standard label is the
carrier's only identifier, so `LABELS` maps label fragments and the label is
`carrier_code`; `STAT` (the parcel's state) describes the newest line when its label
is unknown. Times are zone-less, read in the line's country zone, else Europe/Paris.
"""

from __future__ import annotations

from typing import Any, Final
from zoneinfo import ZoneInfo

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import TrackingStatus as S
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    as_list,
    as_object,
    build_event,
    field,
    fold,
    load_json,
    make_location,
    optional_text,
    parse_local,
    text,
    zone_for,
)
from relais_tracker.adapters.carriers._xml import looks_like_xml
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError
from relais_tracker.adapters.carriers.mondial_relay_soap import read_result

# Source: Mondial Relay Web Service WSI2 documentation ("Solution Web Service", method
# WSI2_TracingColisDetaille, return codes 80 commande enregistrée, 81 en cours de
# traitement, 82 livré, 83 anomalie; error codes such as 24 numéro d'expédition
# invalide are listed in the same table, quoted in PrestaShop/PrestaShop-modules
# mondialrelay/errorCode.php). Karrio has no Mondial Relay connector.
STAT_CODES: Final[dict[str, CodeMapping]] = {
    "80": (S.INFO_RECEIVED, B.LABEL_CREATED, None),
    "81": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),
    "82": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "83": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
}

_HOLD_EXPIRED: Final = (S.EXCEPTION, B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED)
_REFUSED: Final = (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)
_DAMAGED: Final = (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)
_INCORRECT: Final = (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)
_ABSENT: Final = (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)
_RETURNING: Final = (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN)
_RETURNED: Final = (S.EXCEPTION, B.RETURNED_TO_SENDER, R.UNKNOWN)
_REDIRECTED: Final = (S.IN_TRANSIT, B.REDIRECTED, None)
_READY: Final = (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)
_PICKED_UP: Final = (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)
_TO_RECIPIENT: Final = (S.DELIVERED, B.DELIVERED_TO_RECIPIENT, None)
_OFD: Final = (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None)
_ACCEPTED: Final = (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None)
_LABEL: Final = (S.INFO_RECEIVED, B.LABEL_CREATED, None)

# Mondial Relay's standard tracing labels, French and English (the `Langue` asked for:
# "Data reception", "Recieved in agency" [sic] as quoted in DigitalGenius's published
# Mondial Relay sample answer), folded; the first fragment found in a line's label wins,
# so the specific ones come first.
LABELS: Final[tuple[tuple[str, CodeMapping], ...]] = (
    ("non reclame", _HOLD_EXPIRED),
    ("delai de garde", _HOLD_EXPIRED),
    ("not collected", _HOLD_EXPIRED),
    ("unclaimed", _HOLD_EXPIRED),
    ("refus", _REFUSED),
    ("endommage", _DAMAGED),
    ("avarie", _DAMAGED),
    ("damaged", _DAMAGED),
    ("adresse", _INCORRECT),
    ("address", _INCORRECT),
    ("absent", _ABSENT),
    ("not at home", _ABSENT),
    ("retour a l'expediteur", _RETURNING),
    ("retourne a l'expediteur", _RETURNING),
    ("return to sender", _RETURNING),
    ("returned to sender", _RETURNING),
    ("return to the sender", _RETURNING),
    ("livre a l'expediteur", _RETURNED),
    ("delivered to the sender", _RETURNED),
    ("redirige", _REDIRECTED),
    ("redirect", _REDIRECTED),
    ("indisponible", _REDIRECTED),
    ("unavailable", _REDIRECTED),
    ("not available", _ABSENT),
    ("disponible", _READY),
    ("mis a disposition", _READY),
    ("available", _READY),
    ("livre au point relais", _READY),
    ("livre en point relais", _READY),
    ("delivered to the point relais", _READY),
    ("delivered to the pick up point", _READY),
    ("recupere", _PICKED_UP),
    ("remis au destinataire", _PICKED_UP),
    ("collected by the recipient", _PICKED_UP),
    ("handed over to the recipient", _PICKED_UP),
    ("livre au destinataire", _TO_RECIPIENT),
    ("delivered to the recipient", _TO_RECIPIENT),
    ("en cours de livraison", _OFD),
    ("out for delivery", _OFD),
    ("in delivery", _OFD),
    ("depose", _ACCEPTED),
    ("dropped off", _ACCEPTED),
    ("pris en charge", _ACCEPTED),
    ("prise en charge", _ACCEPTED),
    ("taken over", _ACCEPTED),
    ("taken in charge", _ACCEPTED),
    ("received in agency", _ACCEPTED),
    ("recieved in agency", _ACCEPTED),
    ("arrive", (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None)),
    ("en cours d'acheminement", (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None)),
    ("in transit", (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None)),
    ("enregistre", _LABEL),
    ("en preparation", _LABEL),
    ("being prepared", _LABEL),
    ("data reception", _LABEL),
    ("livre", (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None)),
    ("delivered", (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None)),
)


class MondialRelayAdapter:
    carrier = "mondial_relay"
    default_zone = ZoneInfo("Europe/Paris")

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = (
            read_result(payload)  # the SOAP answer (mondial_relay_soap), in the JSON form
            if looks_like_xml(payload)
            else as_object(load_json(payload, carrier=self.carrier), where="payload")
        )
        stat = text(field(document, "STAT", where="payload"), where="STAT")
        if stat not in STAT_CODES:
            raise PayloadError(f"Mondial Relay answered with STAT {stat} (an error code)")
        tracking_number = text(field(document, "Expedition", where="payload"), where="Expedition")
        lines = _lines(field(document, "Tracing", where="payload"))
        events = [
            self._event(
                raw,
                tracking_number=tracking_number,
                stat=stat if index == len(lines) - 1 else None,
                where=f"Tracing[{index}]",
            )
            for index, raw in enumerate(lines)
        ]
        return sorted(events, key=lambda event: event.occurred_at)

    def _event(
        self, value: Any, *, tracking_number: str, stat: str | None, where: str
    ) -> NormalizedEvent:
        raw = as_object(value, where=where)
        label = text(field(raw, "Libelle", where=where), where=f"{where}.Libelle")
        folded = fold(label)
        mapping = next((mapped for fragment, mapped in LABELS if fragment in folded), None)
        if mapping is None and stat is not None:
            mapping = STAT_CODES[stat]
        country = optional_text(raw.get("Relais_Pays"))
        relay = optional_text(raw.get("Relais_Num"))
        place = optional_text(raw.get("Emplacement"))
        if mapping == _TO_RECIPIENT and relay:  # handed over at a Point Relais
            mapping = _PICKED_UP
        return build_event(
            tracking_number=tracking_number,
            carrier_code=label,
            carrier_reason_code=stat,
            mapping=mapping,
            occurred_at=parse_local(
                field(raw, "Date", where=where),
                field(raw, "Heure", where=where),
                day_format="%d/%m/%y",
                clock_format="%H:%M",
                zone=zone_for(country, default=self.default_zone),
                where=where,
            ),
            description=label,
            location=make_location(
                facility=f"{place} (Point Relais {relay})" if place and relay else place,
                country=country,
            ),
        )


def _lines(value: Any) -> list[Any]:
    if isinstance(value, dict):
        value = value.get("ret_WSI2_sub_TracingColisDetaille") or []
    lines = as_list(value, where="Tracing")
    return [line for line in lines if not (isinstance(line, dict) and not line.get("Libelle"))]
