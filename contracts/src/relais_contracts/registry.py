"""The topic registry: every Relais topic, declared once.

Each topic lives in its own module under `relais_contracts.topics`, which defines
`TOPIC`, a `Topic` naming the topic, its key, partitions, retention or compaction,
producers, consumers, its schema version and the union of messages it carries.
Example messages sit beside it in `examples/<topic name>/<EventType>[-variant].json`
and a test validates every one of them against the models.

Rules:
- a topic's name ends with `.v<schema_version>`; a breaking change to any of its
  messages is a new topic `.v<N+1>` with new models, the old one is left as it is;
- an event type belongs to one topic family (a main topic and its retry tiers);
- `decode` is the only way a consumer reads a message: it raises
  `pydantic.ValidationError` for anything that is not a valid message of this topic
  (the caller dead-letters it); `encode` is the only way a producer writes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from relais_contracts.envelope import WIRE_CONTEXT, Event

EXAMPLES_DIR = Path(__file__).parent / "examples"


class Cleanup(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


class Service(StrEnum):
    TRACKER = "tracker"
    DETECTOR = "detector"
    NOTIFIER = "notifier"
    CHAT = "chat"
    ACTIONS = "actions"
    INSIGHTS = "insights"
    MERCHANT = "merchant"
    CARRIER = "carrier"
    ANY = "any"


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    key: str
    """What the Kafka key is, in words (the value is `Event.partition_key()`)."""
    message_types: tuple[type[Event], ...]
    producers: tuple[Service, ...]
    consumers: tuple[Service, ...]
    schema_version: int = 1
    partitions: int = 6
    cleanup: Cleanup = Cleanup.DELETE
    retention_ms: int | None = 7 * 24 * 3600 * 1000
    extra_config: dict[str, str] = field(default_factory=dict)
    _adapter: TypeAdapter[Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def adapter(self) -> TypeAdapter[Any]:
        """Validates any message of this topic, discriminated on `event_type`."""
        if self._adapter is None:
            object.__setattr__(self, "_adapter", _union_adapter(self.message_types))
        assert self._adapter is not None
        return self._adapter

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(event_type_of(model) for model in self.message_types)

    def decode(self, raw: bytes | str) -> Event:
        """Parse and validate one message off the wire.

        Raises pydantic.ValidationError (dead-letter it) for malformed JSON, an unknown
        event type, a missing envelope field or any invalid value.
        """
        event: Event = self.adapter.validate_json(raw, context=WIRE_CONTEXT)
        return event

    def encode(self, event: Event) -> tuple[bytes, bytes]:
        """(key, value) to produce; raises TypeError if the topic does not carry it."""
        if not isinstance(event, self.message_types):
            raise TypeError(f"{self.name} does not carry {type(event).__name__}")
        return event.partition_key(), event.model_dump_json().encode()

    def kafka_config(self) -> dict[str, str]:
        config = {"cleanup.policy": self.cleanup.value}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        config.update(self.extra_config)
        return config

    def examples_dir(self) -> Path:
        return EXAMPLES_DIR / self.name


def event_type_of(model: type[Event]) -> str:
    """The `event_type` literal a message model writes."""
    default = model.model_fields["event_type"].default
    if not isinstance(default, str):
        raise TypeError(f"{model.__name__} does not fix its event_type")
    return default


def schema_version_of(model: type[Event]) -> int:
    default = model.model_fields["schema_version"].default
    if not isinstance(default, int):
        raise TypeError(f"{model.__name__} does not fix its schema_version")
    return default


def _union_adapter(types: tuple[type[Event], ...]) -> TypeAdapter[Any]:
    from typing import Annotated, Union

    from pydantic import Field

    if len(types) == 1:
        return TypeAdapter(types[0])
    union = Union[types]  # type: ignore[valid-type]  # noqa: UP007
    return TypeAdapter(Annotated[union, Field(discriminator="event_type")])
