"""The generic Relais format, for aggregators and carriers without an adapter
(documented in docs/carriers.md).

    {"tracking_number": "...", "carrier": "colissimo",     # the real carrier, optional
     "events": [{
        "occurred_at": "2026-03-02T10:15:00+01:00",   # an offset is required
        "status": "delivered", "substatus": "delivered_to_neighbour",  # Relais terms, or
        "carrier_code": "DLV-NB",                    # the carrier's own code
        "description": "...", "incident": {"reason": "...", "fault": "..."},
        "location": {"city", "postal_code", "country", "facility"},
        "estimated_delivery": {"day", "window_start", "window_end"}}]}

Rules: `carrier` names the real carrier, any way the alias table knows
(relais_tracker.adapters.carriers.aliases): its events are that carrier's and match its parcels;
without it (or with `generic`) they match a parcel of any carrier with that tracking
number. A name that cannot be a carrier code is a payload error. An event says
`substatus` (its status is implied), or `status` (substatus `<status>_unspecified`), or
only `carrier_code`: then nothing is known about it, it is the safe default with
`code_recognized=False`. A `status`/`substatus` pair that does not belong together, or
an unknown Relais term, is a payload error. An incident without `fault` gets the
reason's default fault party. Control characters in the texts (description, carrier
code, location) become spaces, as with every adapter.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from relais_contracts.common import CountryCode
from relais_contracts.tracking import (
    UNSPECIFIED,
    DeliveryEstimate,
    FaultParty,
    Incident,
    IncidentReason,
    Substatus,
    TrackingStatus,
    check_pair,
    status_of,
)
from relais_tracker.adapters.carriers._common import (
    CodeMapping,
    build_event,
    load_json,
    make_location,
)
from relais_tracker.adapters.carriers.aliases import GENERIC, carrier_code
from relais_tracker.adapters.carriers.base import NormalizedEvent, PayloadError


class _Incident(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: IncidentReason
    fault: FaultParty | None = None


class _Location(BaseModel):
    """relais_contracts.tracking.Location as a carrier writes it (its texts may hold
    control characters: make_location neutralizes them)."""

    model_config = ConfigDict(extra="ignore")
    city: str | None = Field(default=None, max_length=120)
    postal_code: str | None = Field(default=None, max_length=20)
    country: CountryCode | None = None
    facility: str | None = Field(default=None, max_length=200)


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")
    occurred_at: AwareDatetime
    status: TrackingStatus | None = None
    substatus: Substatus | None = None
    carrier_code: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", max_length=2000)
    incident: _Incident | None = None
    location: _Location | None = None
    estimated_delivery: DeliveryEstimate | None = None


class _Document(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tracking_number: str = Field(min_length=3, max_length=64)
    carrier: str | None = Field(default=None, max_length=64)
    events: list[_Event]


class GenericAdapter:
    carrier = "generic"
    default_zone = ZoneInfo("UTC")

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        try:
            document = _Document.model_validate_json(payload)
        except ValidationError:
            document = self._explain(payload)
        carrier = _real_carrier(document.carrier)
        events = [
            self._event(
                event, tracking_number=document.tracking_number, carrier=carrier, index=index
            )
            for index, event in enumerate(document.events)
        ]
        return sorted(events, key=lambda event: event.occurred_at)

    def _explain(self, payload: bytes) -> _Document:
        """Raise the PayloadError that says why `payload` is not a valid document (the
        fast path above validates the JSON bytes directly, without this detail)."""
        raw: Any = load_json(payload, carrier=self.carrier)
        try:
            return _Document.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "payload"
            raise PayloadError(f"{where}: {first['msg']}") from None

    def _event(
        self, event: _Event, *, tracking_number: str, carrier: str | None, index: int
    ) -> NormalizedEvent:
        mapping = _mapping(event, where=f"events.{index}")
        built = build_event(
            tracking_number=tracking_number,
            carrier_code=event.carrier_code or (mapping[1].value if mapping else ""),
            mapping=mapping,
            occurred_at=event.occurred_at,
            description=event.description,
            location=make_location(**event.location.model_dump()) if event.location else None,
            estimated_delivery=event.estimated_delivery,
            carrier=carrier,
        )
        if event.incident is None or mapping is None:
            return built
        incident = Incident(
            reason=event.incident.reason,
            fault=event.incident.fault or Incident.of(event.incident.reason).fault,
        )
        return replace(built, incident=incident)


def _real_carrier(name: str | None) -> str | None:
    if name is None or not name.strip():
        return None
    code = carrier_code(name)
    if code is None:
        raise PayloadError(f"carrier: {name[:64]!r} is not a carrier name")
    return None if code == GENERIC else code


def _mapping(event: _Event, *, where: str) -> CodeMapping | None:
    if event.substatus is not None:
        status = event.status or status_of(event.substatus)
        try:
            check_pair(status, event.substatus)
        except ValueError as error:
            raise PayloadError(f"{where}: {error}") from None
        return (status, event.substatus, None)
    if event.status is not None:
        return (event.status, UNSPECIFIED[event.status], None)
    if not event.carrier_code:
        raise PayloadError(f"{where}: needs a substatus, a status or a carrier_code")
    return None
