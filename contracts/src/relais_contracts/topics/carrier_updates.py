"""relais.carrier-updates.v1: what carriers said, raw, before any interpretation.

Rules:
- the tracker's webhook endpoints publish an accepted payload here before answering
  2xx, and its pollers publish what they fetched: nothing a carrier said is lost,
  even when the adapter cannot read it yet (replay after a fix);
- the payload is kept as the carrier sent it (text; base64 for binary bodies) and is
  personal data (carriers send names and addresses): never logged, short retention;
- keyed by `<carrier>:<tracking number>` when the receiver knows the one tracking
  number the payload is about, else `<carrier>:<event_id>` (a batch of several
  parcels): the shipment is only known after the tracker matched the tracking
  number, and the tracker orders a shipment's events by their event time anyway;
- `merchant_id` is the merchant when the receiving endpoint or the poll knows it, else
  `unknown` (envelope.UNKNOWN_MERCHANT): the tracker finds it from the tracking number.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from relais_contracts.common import CarrierCode, TrackingNumber
from relais_contracts.envelope import UNKNOWN_MERCHANT, Event, MerchantId
from relais_contracts.privacy import PERSONAL
from relais_contracts.registry import Cleanup, Service, Topic
from relais_contracts.text import NeutralizedLine, OptionalSingleLine

MAX_PAYLOAD_CHARS = 500_000
"""Keeps the message under Kafka's default 1 MB limit with the envelope around it; the
webhook endpoints' body limit (413) must be lower."""


class UpdateSource(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"


class PayloadEncoding(StrEnum):
    TEXT = "text"
    BASE64 = "base64"


class CarrierUpdateReceived(Event):
    """One payload received from (or fetched at) a carrier. `occurred_at` is when Relais
    received it."""

    event_type: Literal["CarrierUpdateReceived"] = "CarrierUpdateReceived"
    schema_version: Literal[1] = 1
    merchant_id: MerchantId = Field(
        default=UNKNOWN_MERCHANT, description="`unknown` when the receiver cannot tell."
    )
    carrier: CarrierCode
    source: UpdateSource
    received_at: AwareDatetime
    content_type: NeutralizedLine = Field(
        min_length=1, max_length=200, description="As received (control characters neutralized)."
    )
    encoding: PayloadEncoding = PayloadEncoding.TEXT
    payload: str = Field(
        max_length=MAX_PAYLOAD_CHARS,
        description="The body exactly as received (decoded as UTF-8, or base64); raw, so "
        "not checked for control characters: the adapters neutralize them in the text "
        "they take from it.",
        json_schema_extra=PERSONAL,
    )
    tracking_number: TrackingNumber | None = Field(
        default=None,
        description="The single tracking number the payload is about, when the receiver "
        "knows it (polls always do); None for a batch.",
    )
    endpoint: OptionalSingleLine = Field(
        default=None,
        max_length=200,
        description="Which webhook endpoint or poller received it (for diagnosis).",
    )

    partition_key_field = "tracking_number"

    def partition_key(self) -> bytes:
        return f"{self.carrier}:{self.tracking_number or self.event_id}".encode()


TOPIC = Topic(
    name="relais.carrier-updates.v1",
    description=__doc__ or "",
    key="`<carrier>:<tracking_number>` (or `<carrier>:<event_id>` for a multi-parcel batch)",
    message_types=(CarrierUpdateReceived,),
    producers=(Service.TRACKER,),
    consumers=(Service.TRACKER,),
    partitions=6,
    cleanup=Cleanup.DELETE,
    retention_ms=3 * 24 * 3600 * 1000,
)
