"""The envelope every Relais message carries.

Rules (DESIGN.md, "Contracts"):
- tolerant to read: unknown fields are ignored, so a newer producer never breaks
  an older consumer;
- strict to write: a message is only ever produced from a validated model
  instance; a breaking change is a new schema version (a new model), never an
  edit of an existing one;
- `occurred_at` is when it happened in the world, `produced_at` when Relais
  wrote it; both carry their UTC offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

MerchantId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$", strip_whitespace=True)
]
"""A merchant's slug: lower-case letters, digits, `-` and `_`, 2 to 63 characters."""

ShipmentId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""The key of everything about one shipment: its events stay ordered on one partition."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every model in the contracts: tolerant to read."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Event(Contract):
    """The envelope: every message on every Relais topic is a subclass of this.

    Subclasses fix `event_type` and `schema_version` with `Literal` defaults so that
    a union of them is discriminated on `event_type`.
    """

    event_id: UUID = Field(default_factory=uuid4, description="Unique per event; consumers are idempotent on it.")
    event_type: str = Field(description="Past tense for events (ShipmentDelivered), imperative for commands (ExecuteAction).")
    schema_version: int = Field(ge=1, description="Version of this event type's schema.")
    occurred_at: AwareDatetime = Field(description="When it happened in the world.")
    produced_at: AwareDatetime = Field(default_factory=utc_now, description="When Relais produced the message.")
    merchant_id: MerchantId
    correlation_id: str = Field(
        min_length=1,
        max_length=128,
        description="Follows one shipment's story through every service (the shipment id by default).",
    )

    partition_key_field: ClassVar[str] = "shipment_id"
    """Name of the field whose value is the Kafka key of this event."""

    def partition_key(self) -> bytes:
        return str(getattr(self, self.partition_key_field)).encode()
