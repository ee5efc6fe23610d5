"""The carrier adapter port: a pure mapping from one carrier payload to normalized events.

Rules:
- an adapter does no I/O: bytes in, `NormalizedEvent`s out; webhook authentication
  and polling live elsewhere (adapters.webhook_auth, adapters.carrier_poller);
- each adapter keeps its carrier's code table in one place, citing the carrier
  documentation it comes from;
- an unknown carrier code maps to the safe default of relais_contracts.tracking
  with `code_recognized=False`; the caller counts and logs it (never dropped);
- times keep their offsets; a time without a zone is read in the carrier's
  documented zone (`CarrierAdapter.default_zone`);
- a payload that cannot be parsed raises `PayloadError` with a one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from relais_contracts.tracking import (
    DeliveryEstimate,
    Incident,
    Location,
    Substatus,
    TrackingStatus,
)


class PayloadError(ValueError):
    """The payload is not in the carrier's format; the message says why, in one line."""


@dataclass(frozen=True)
class NormalizedEvent:
    tracking_number: str
    status: TrackingStatus
    substatus: Substatus
    incident: Incident | None
    occurred_at: datetime
    description: str
    location: Location | None
    carrier_code: str
    carrier_reason_code: str | None = None
    code_recognized: bool = True
    estimated_delivery: DeliveryEstimate | None = None
    carrier: str | None = None
    """The real carrier's Relais code when the payload names it (aggregators, the generic
    format); None: the carrier of the adapter that read it."""


class CarrierAdapter(Protocol):
    carrier: str
    """Relais's carrier code (relais_contracts.common.KNOWN_CARRIERS)."""
    default_zone: ZoneInfo
    """Where the carrier's zone-less times are read."""

    def parse(self, payload: bytes) -> list[NormalizedEvent]:
        """Every tracking event of the payload, oldest first; raises PayloadError."""
        ...
