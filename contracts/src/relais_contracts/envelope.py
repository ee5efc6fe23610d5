"""The envelope every Relais message carries.

Rules (DESIGN.md, "Contracts"):
- tolerant to read: unknown fields are ignored, so a newer producer never breaks
  an older consumer;
- strict to write: a message is only ever produced from a validated model
  instance; a breaking change (removing or renaming a field, tightening a
  constraint, adding an enum value) is a new schema version on a new topic,
  never an edit of an existing one;
- on the wire, `event_id` and `produced_at` are mandatory: a consumer that
  generated them while decoding would break idempotency on redelivery, so
  `Topic.decode` rejects messages without them (dead-letter them);
- `occurred_at` is when it happened in the world, `produced_at` when Relais
  wrote it; both carry their UTC offset;
- the Kafka key is `<merchant_id>/<value of partition_key_field>`: ids are unique
  per merchant only, and a compacted topic must never let one merchant's record
  overwrite another's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Final
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from relais_contracts.text import SingleLine

MerchantId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$", strip_whitespace=True)
]
"""A merchant's slug: lower-case letters, digits, `-` and `_`, 2 to 63 characters."""

ShipmentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:#/-]{0,127}$")]
"""The merchant's id of one parcel (unique per merchant), part of the key of everything
about that shipment: its events stay ordered on one partition."""

OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:#/-]{0,127}$")]
"""The merchant's id of one order (unique per merchant)."""

UNKNOWN_MERCHANT: Final = "unknown"
"""The merchant id of a message whose merchant is not known when it is produced: a raw
carrier update received on a shared endpoint, a dead letter that could not be decoded.
Reserved: no merchant may be configured with this id, and every event about a
merchant's data (MerchantEvent) refuses it."""

WIRE_CONTEXT: Final = {"relais_wire": True}
"""Validation context meaning "this came off the wire": envelope fields with defaults
must then be present."""

_WIRE_REQUIRED: Final = ("event_id", "produced_at")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every model in the contracts: tolerant to read, immutable once built.

    JSON Schemas are exported in serialization mode, where a field with a default is
    still required: a producer always writes every field.
    """

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        json_schema_serialization_defaults_required=True,
    )


class Event(Contract):
    """The envelope: every message on every Relais topic is a subclass of this.

    Subclasses fix `event_type` and `schema_version` with `Literal` defaults so that
    a union of them is discriminated on `event_type`.
    """

    event_id: UUID = Field(
        default_factory=uuid4,
        description="Unique per event; consumers are idempotent on it. Producers derive "
        "it deterministically (relais_contracts.ids) wherever a retry could re-create "
        "the same fact.",
    )
    event_type: str = Field(
        description="Past tense for events (TrackingEventRecorded), imperative for "
        "commands (ExecuteAction)."
    )
    schema_version: int = Field(ge=1, description="Version of this event type's schema.")
    occurred_at: AwareDatetime = Field(description="When it happened in the world.")
    produced_at: AwareDatetime = Field(
        default_factory=utc_now, description="When Relais produced the message."
    )
    merchant_id: MerchantId = Field(
        description="The tenant; every consumer scopes its reads and writes by it "
        "(`unknown` only where the producer cannot know it, see UNKNOWN_MERCHANT)."
    )
    correlation_id: SingleLine = Field(
        min_length=1,
        max_length=128,
        description="Follows one story through every service: the shipment id for "
        "everything about a shipment, the order id on the orders topic.",
    )

    partition_key_field: ClassVar[str] = "shipment_id"
    """Name of the field whose value, scoped by the merchant, is the Kafka key."""

    @model_validator(mode="before")
    @classmethod
    def _wire_fields_present(cls, data: Any, info: ValidationInfo) -> Any:
        on_wire = isinstance(info.context, dict) and info.context.get("relais_wire")
        if on_wire and isinstance(data, dict):
            missing = [name for name in _WIRE_REQUIRED if data.get(name) is None]
            if missing:
                raise ValueError(f"envelope field(s) missing on the wire: {missing}")
        return data

    def partition_key(self) -> bytes:
        """The Kafka key: `<merchant_id>/<partition key field>`."""
        return f"{self.merchant_id}/{getattr(self, self.partition_key_field)}".encode()


def split_partition_key(key: bytes) -> tuple[str, str]:
    """`<merchant_id>/<id>` back into its two parts (for tombstones, which carry only a key)."""
    merchant_id, separator, identifier = key.decode("utf-8").partition("/")
    if not separator or not merchant_id or not identifier:
        raise ValueError(f"not a merchant-scoped key: {key!r}")
    return merchant_id, identifier


class MerchantEvent(Event):
    """An event about one merchant's data: the merchant is always known."""

    @field_validator("merchant_id")
    @classmethod
    def _known_merchant(cls, value: str) -> str:
        if value == UNKNOWN_MERCHANT:
            raise ValueError(f"{UNKNOWN_MERCHANT!r} is reserved for messages of no known merchant")
        return value


class ShipmentEvent(MerchantEvent):
    """An event about one shipment, keyed by `<merchant_id>/<shipment_id>`."""

    shipment_id: ShipmentId = Field(
        description="The merchant's id of the parcel; with the merchant, the Kafka key."
    )
