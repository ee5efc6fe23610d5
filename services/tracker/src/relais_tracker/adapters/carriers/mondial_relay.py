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
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError

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

# Mondial Relay's standard tracing labels (French), folded; the first fragment found
# in a line's label wins, so the specific ones come first.
LABELS: Final[tuple[tuple[str, CodeMapping], ...]] = (
    ("non reclame", (S.EXCEPTION, B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED)),
    ("delai de garde", (S.EXCEPTION, B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED)),
    ("refus", (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)),
    ("endommage", (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
    ("avarie", (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)),
    ("adresse", (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)),
    ("absent", (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_HOME)),
    ("retour a l'expediteur", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN)),
    ("retourne a l'expediteur", (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN)),
    ("livre a l'expediteur", (S.EXCEPTION, B.RETURNED_TO_SENDER, R.UNKNOWN)),
    ("redirige", (S.IN_TRANSIT, B.REDIRECTED, None)),
    ("indisponible", (S.IN_TRANSIT, B.REDIRECTED, None)),
    ("disponible", (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)),
    ("mis a disposition", (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)),
    ("recupere", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
    ("remis au destinataire", (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)),
    ("livre au destinataire", (S.DELIVERED, B.DELIVERED_TO_RECIPIENT, None)),
    ("en cours de livraison", (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None)),
    ("depose", (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None)),
    ("pris en charge", (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None)),
    ("prise en charge", (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None)),
    ("arrive", (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None)),
    ("en cours d'acheminement", (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None)),
    ("enregistre", (S.INFO_RECEIVED, B.LABEL_CREATED, None)),
)


class MondialRelayAdapter:
    carrier = "mondial_relay"
    default_zone = ZoneInfo("Europe/Paris")

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        document = as_object(load_json(payload, carrier=self.carrier), where="payload")
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
