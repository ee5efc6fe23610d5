"""The topic registry: every Relais topic, declared once.

Each topic lives in its own module under `relais_contracts.topics`, which defines
`TOPIC`, a `Topic` naming the topic, its key, partitions, retention or compaction,
producers, consumers, its schema version and the union of messages it carries.
Example messages sit beside it in `examples/<topic name>/*.json` and a test
validates every one of them against the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from relais_contracts.envelope import Event

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

    def decode(self, raw: bytes | str) -> Event:
        """Parse and validate one message; raises pydantic.ValidationError (dead-letter it)."""
        event: Event = self.adapter.validate_json(raw)
        return event

    def kafka_config(self) -> dict[str, str]:
        config = {"cleanup.policy": self.cleanup.value}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        config.update(self.extra_config)
        return config

    def examples_dir(self) -> Path:
        return EXAMPLES_DIR / self.name


def _union_adapter(types: tuple[type[Event], ...]) -> TypeAdapter[Any]:
    from typing import Annotated, Union

    from pydantic import Field

    if len(types) == 1:
        return TypeAdapter(types[0])
    union = Union[types]  # type: ignore[valid-type]  # noqa: UP007
    return TypeAdapter(Annotated[union, Field(discriminator="event_type")])
