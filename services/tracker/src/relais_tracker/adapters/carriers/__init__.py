"""Carrier adapters: one module per carrier, registered in ADAPTERS.

Rules:
- `parse` is pure: bytes in, normalized events out (oldest first), `PayloadError` with
  a one-line reason for anything it cannot read, an unknown carrier name included;
- unknown carrier codes are not dropped: they come out as the safe default with
  `code_recognized=False`; whoever receives them (ingestion, `relais normalize`) calls
  `record_unknown_codes`, which counts them by carrier and logs each code;
- `to_record` is the JSON form of an event (`relais normalize`, replay fixtures);
- a carrier is named through the alias table (relais_tracker.adapters.carriers.aliases):
  `parse("mondial-relay", ...)` is `parse("mondial_relay", ...)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from relais_runtime.logging import get_logger
from relais_runtime.metrics import TRACKER_UNKNOWN_CARRIER_CODES
from relais_tracker.adapters.carriers.aftership import AftershipAdapter
from relais_tracker.adapters.carriers.aliases import known_carrier
from relais_tracker.adapters.carriers.base import CarrierAdapter, NormalizedEvent, PayloadError
from relais_tracker.adapters.carriers.bpost import BpostAdapter
from relais_tracker.adapters.carriers.chronopost import ChronopostAdapter
from relais_tracker.adapters.carriers.colissimo import ColissimoAdapter
from relais_tracker.adapters.carriers.correos import CorreosAdapter
from relais_tracker.adapters.carriers.dhl import DhlAdapter
from relais_tracker.adapters.carriers.dpd import DpdAdapter
from relais_tracker.adapters.carriers.evri import EvriAdapter
from relais_tracker.adapters.carriers.fedex import FedexAdapter
from relais_tracker.adapters.carriers.generic import GenericAdapter
from relais_tracker.adapters.carriers.gls import GlsAdapter
from relais_tracker.adapters.carriers.inpost import InpostAdapter
from relais_tracker.adapters.carriers.karrio import KarrioAdapter
from relais_tracker.adapters.carriers.mondial_relay import MondialRelayAdapter
from relais_tracker.adapters.carriers.postnl import PostnlAdapter
from relais_tracker.adapters.carriers.royal_mail import RoyalMailAdapter
from relais_tracker.adapters.carriers.seventeen_track import SeventeenTrackAdapter
from relais_tracker.adapters.carriers.ups import UpsAdapter

__all__ = [
    "ADAPTERS",
    "CarrierAdapter",
    "NormalizedEvent",
    "PayloadError",
    "adapter_for",
    "parse",
    "record_unknown_codes",
    "to_record",
]

ADAPTERS: Final[dict[str, CarrierAdapter]] = {
    adapter.carrier: adapter
    for adapter in (
        ColissimoAdapter(),
        ChronopostAdapter(),
        DhlAdapter(),
        UpsAdapter(),
        FedexAdapter(),
        DpdAdapter(),
        GlsAdapter(),
        MondialRelayAdapter(),
        RoyalMailAdapter(),
        PostnlAdapter(),
        InpostAdapter(),
        EvriAdapter(),
        BpostAdapter(),
        CorreosAdapter(),
        AftershipAdapter(),
        SeventeenTrackAdapter(),
        KarrioAdapter(),
        GenericAdapter(),
    )
}


def adapter_for(name: str) -> CarrierAdapter | None:
    """The adapter of a carrier or aggregator named any way the alias table knows."""
    code = known_carrier(name)
    return ADAPTERS.get(code) if code is not None else None


def parse(carrier: str, payload: bytes) -> list[NormalizedEvent]:
    adapter = adapter_for(carrier)
    if adapter is None:
        raise PayloadError(
            f"unknown carrier {carrier!r}; known carriers: {', '.join(sorted(ADAPTERS))}"
        )
    return adapter.parse(payload)


def record_unknown_codes(events: Iterable[NormalizedEvent], *, carrier: str) -> int:
    """Count (metric labelled by carrier only) and log (with the code) every event whose
    carrier code no table knows; returns how many there were."""
    unknown = 0
    for event in events:
        if event.code_recognized:
            continue
        unknown += 1
        TRACKER_UNKNOWN_CARRIER_CODES.labels(carrier=carrier).inc()
        get_logger(__name__).warning(
            "unknown carrier code",
            carrier=carrier,
            carrier_code=event.carrier_code,
            carrier_reason_code=event.carrier_reason_code,
            mapped_to=event.substatus.value,
        )
    return unknown


def to_record(event: NormalizedEvent) -> dict[str, Any]:
    """The JSON form of one normalized event: every field, times in ISO 8601 with offset;
    `carrier` only when the payload named the real carrier."""
    record: dict[str, Any] = {
        "tracking_number": event.tracking_number,
        "status": event.status.value,
        "substatus": event.substatus.value,
        "incident": event.incident.model_dump(mode="json") if event.incident else None,
        "occurred_at": event.occurred_at.isoformat(),
        "description": event.description,
        "location": event.location.model_dump(mode="json") if event.location else None,
        "carrier_code": event.carrier_code,
        "carrier_reason_code": event.carrier_reason_code,
        "code_recognized": event.code_recognized,
        "estimated_delivery": (
            event.estimated_delivery.model_dump(mode="json") if event.estimated_delivery else None
        ),
    }
    if event.carrier is not None:
        record["carrier"] = event.carrier
    return record
