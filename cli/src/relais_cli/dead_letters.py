"""Dead letters as an operator sees them: reading, filtering, describing and replaying
(the pure parts; the Kafka I/O is dead_letters_kafka.py, the commands dead_letters_cmd.py).

Letters are read tolerantly (`DeadLetter`, not the contract's strict model): a reason
kind added to the contract later (`dependency_missing`, ...) or a field this CLI does not
know must never hide a letter from the operator. A record of the dead-letter topic that
is not a dead letter at all is counted as unreadable, never fatal.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from relais_contracts.registry import Cleanup
from relais_contracts.topics import ALL_TOPICS
from relais_contracts.topics.dead_letters import DeadLetterReason
from relais_runtime.dead_letters import REPLAY_FOR_HEADER, REPLAY_OF_HEADER, DeadLetterKind

KNOWN_KINDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *(kind.value for kind in DeadLetterKind),
            *get_args(DeadLetterReason.model_fields["kind"].annotation),
        )
    )
)
"""Reason kinds the runtime writes, then those older letters may carry; a `--kind`
outside them is accepted with a warning (a newer consumer may add kinds)."""
REPLAY_HEADERS = frozenset({REPLAY_FOR_HEADER, REPLAY_OF_HEADER})

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_UNITS = {"w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `3d`, `1w`, or a combination such as `1h30m`."""
    compact = text.strip().replace(" ", "")
    position = 0
    seconds = 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
        position = match.end()
    if not compact or position != len(compact):
        raise ValueError(f"{text!r} is not a duration such as 90s, 15m, 2h, 3d, 1w or 1h30m")
    return timedelta(seconds=seconds)


def parse_moment(text: str, *, now: datetime) -> datetime:
    """An ISO 8601 time (`2025-03-01`, `2025-03-01T12:00`, `...+02:00`, `...Z`; without an
    offset it is UTC) or a duration back from `now` (`2h` is two hours ago)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO time (2025-03-01T12:00:00Z) nor a duration (2h)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class LetterReason(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: str
    message: str = ""
    attempts: int = 1


class DeadLetter(BaseModel):
    """A `MessageDeadLettered` read back from the dead-letter topic, with where it sits
    there (`partition`, `offset`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: Literal["MessageDeadLettered"]
    event_id: UUID
    occurred_at: AwareDatetime
    produced_at: AwareDatetime | None = None
    merchant_id: str = "unknown"
    correlation_id: str = ""
    consumer_group: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_key_b64: str | None = None
    source_headers: dict[str, str] = Field(default_factory=dict)
    original_value_b64: str
    reason: LetterReason
    partition: int = -1
    offset: int = -1

    def key(self) -> bytes | None:
        return (
            None
            if self.source_key_b64 is None
            else base64.b64decode(self.source_key_b64, validate=True)
        )

    def value(self) -> bytes:
        return base64.b64decode(self.original_value_b64, validate=True)

    @property
    def replay_of(self) -> str | None:
        """The dead letter this one's message was a replay of, if it was one."""
        return self.source_headers.get(REPLAY_OF_HEADER)

    def short_reason(self, width: int = 60) -> str:
        line = self.reason.message.strip().splitlines()[0] if self.reason.message.strip() else ""
        return line if len(line) <= width else line[: width - 1] + "…"


def parse_letter(value: bytes | None, *, partition: int, offset: int) -> DeadLetter:
    """One record of the dead-letter topic; raises ValueError when it is not a readable
    dead letter (pydantic's ValidationError is one)."""
    if value is None:
        raise ValueError("a tombstone, not a dead letter")
    letter = DeadLetter.model_validate_json(value)
    try:
        letter.key()
        letter.value()
    except binascii.Error as error:
        raise ValueError(f"bad base64 in the letter: {error}") from None
    return letter.model_copy(update={"partition": partition, "offset": offset})


@dataclass(frozen=True)
class Filters:
    """Which letters: every non-empty criterion must hold (`since` inclusive, `until`
    exclusive, on the time the consumer gave up, `occurred_at`)."""

    groups: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    ids: frozenset[UUID] = frozenset()

    @property
    def narrows(self) -> bool:
        """False when every letter matches."""
        return bool(
            self.groups
            or self.topics
            or self.kinds
            or self.ids
            or self.since is not None
            or self.until is not None
        )

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (not self.ids or letter.event_id in self.ids)
            and (not self.groups or letter.consumer_group in self.groups)
            and (not self.topics or letter.source_topic in self.topics)
            and (not self.kinds or letter.reason.kind in self.kinds)
            and (self.since is None or letter.occurred_at >= self.since)
            and (self.until is None or letter.occurred_at < self.until)
        )


def build_filters(
    *,
    groups: Iterable[str] = (),
    topics: Iterable[str] = (),
    kinds: Iterable[str] = (),
    since: str | None = None,
    until: str | None = None,
    ids: Iterable[str] = (),
    now: datetime,
) -> Filters:
    """Filters from the command's options; raises ValueError naming the bad one."""
    parsed_ids: set[UUID] = set()
    for text in ids:
        try:
            parsed_ids.add(UUID(text.strip()))
        except ValueError:
            raise ValueError(f"{text!r} is not a dead-letter event id (a UUID)") from None
    moments: dict[str, datetime | None] = {}
    for option, moment in (("--since", since), ("--until", until)):
        try:
            moments[option] = None if moment is None else parse_moment(moment, now=now)
        except ValueError as error:
            raise ValueError(f"{option}: {error}") from None
    filters = Filters(
        groups=frozenset(groups),
        topics=frozenset(topics),
        kinds=frozenset(kinds),
        since=moments["--since"],
        until=moments["--until"],
        ids=frozenset(parsed_ids),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise ValueError("--since must be before --until")
    return filters


def order_key(letter: DeadLetter) -> tuple[datetime, str, int, int]:
    """Oldest first; one source partition's letters in their offset order."""
    return (letter.occurred_at, letter.source_topic, letter.source_partition, letter.source_offset)


def select(letters: Iterable[DeadLetter], limit: int | None = None) -> list[DeadLetter]:
    """The `limit` most recent letters (all when None or 0), oldest first, each event id
    once (a letter read twice is the same letter)."""
    unique = {letter.event_id: letter for letter in letters}
    ordered = sorted(unique.values(), key=order_key)
    return ordered[-limit:] if limit else ordered


def describe_bytes(raw: bytes) -> tuple[Literal["json", "text", "base64"], Any]:
    """How to show original bytes: parsed JSON, else UTF-8 text, else base64."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(raw).decode("ascii")
    try:
        return "json", json.loads(text)
    except ValueError:
        return "text", text


def describe_key(raw: bytes | None) -> tuple[Literal["none", "text", "base64"], str | None]:
    """A key as UTF-8 text (Relais keys are `<merchant>/<id>`), else base64."""
    if raw is None:
        return "none", None
    try:
        return "text", raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(raw).decode("ascii")


def summary(letter: DeadLetter) -> dict[str, Any]:
    """One letter for `list --json`: no original bytes (they may hold personal data)."""
    return {
        "event_id": str(letter.event_id),
        "occurred_at": letter.occurred_at.isoformat(),
        "consumer_group": letter.consumer_group,
        "source_topic": letter.source_topic,
        "source_partition": letter.source_partition,
        "source_offset": letter.source_offset,
        "reason": letter.reason.model_dump(),
        "merchant_id": letter.merchant_id,
        "correlation_id": letter.correlation_id,
        "replay_of": letter.replay_of,
        "dead_letter_partition": letter.partition,
        "dead_letter_offset": letter.offset,
    }


def details(letter: DeadLetter) -> dict[str, Any]:
    """Everything about one letter for `show`: the key and value decoded as far as they go."""
    key_format, key = describe_key(letter.key())
    value_format, value = describe_bytes(letter.value())
    return {
        **summary(letter),
        "produced_at": None if letter.produced_at is None else letter.produced_at.isoformat(),
        "key_format": key_format,
        "key": key,
        "headers": dict(letter.source_headers),
        "value_format": value_format,
        "value": value,
    }


@dataclass(frozen=True)
class ReplayRecord:
    """What `replay` publishes for one letter: the original key, value and headers, back
    on the source topic, with the two replay headers (relais_runtime.replay)."""

    letter_id: UUID
    consumer_group: str
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = field(default=())


def build_replay(letter: DeadLetter) -> ReplayRecord:
    """The record to re-publish, with `relais-replay-for` (the letter's group: the
    pipeline of every other group skips it) and `relais-replay-of` (the letter's id).
    Replay headers of an earlier replay are replaced, never repeated. Header values come
    back as the letter kept them (UTF-8 text)."""
    original = [
        (name, value.encode("utf-8"))
        for name, value in letter.source_headers.items()
        if name not in REPLAY_HEADERS
    ]
    return ReplayRecord(
        letter_id=letter.event_id,
        consumer_group=letter.consumer_group,
        topic=letter.source_topic,
        key=letter.key(),
        value=letter.value(),
        headers=(
            *original,
            (REPLAY_FOR_HEADER, letter.consumer_group.encode("utf-8")),
            (REPLAY_OF_HEADER, str(letter.event_id).encode("ascii")),
        ),
    )


SourceKey = tuple[str, int, bytes]
"""(source topic, partition, key): where later records of a letter's key are looked for."""


def compacted_topics() -> frozenset[str]:
    """The registry's compacted topics (relais.shipment-state.v1)."""
    return frozenset(topic.name for topic in ALL_TOPICS if topic.cleanup is Cleanup.COMPACT)


def source_key(letter: DeadLetter) -> SourceKey | None:
    key = letter.key()
    return None if key is None else (letter.source_topic, letter.source_partition, key)


def replay_hazard(letter: DeadLetter, *, compacted: bool, later_offset: int | None) -> str | None:
    """Why this letter must not be replayed, else None.

    On a compacted topic the latest record of a key is the key's whole state, and a
    replay becomes that latest record: replaying anything but the key's latest record
    would bring back a stale state for every reader that rebuilds from the topic, or a
    shipment forgotten since (tombstone) with its personal data. So only a letter whose
    record is still the latest of its key is replayed there; the failed group saw the
    later record anyway. `later_offset` is the last offset of the key after the letter's
    record on its source partition (None: no later record)."""
    if not compacted:
        return None
    if letter.key() is None:
        return f"no key, on the compacted topic {letter.source_topic}"
    if later_offset is not None and later_offset > letter.source_offset:
        return (
            f"superseded: its key has a later record on the compacted topic "
            f"{letter.source_topic} (partition {letter.source_partition}, offset {later_offset})"
        )
    return None
