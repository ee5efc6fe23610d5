"""Injected time: every service asks a Clock, never `datetime.now()` directly.

- `SystemClock`: production.
- `ManualClock`: tests; time moves only when the test says so.
- `ScaledClock`: the demo and replays; virtual time starts at `virtual_start`
  when real time is `real_start` and runs `factor` times faster. Every process
  built from the same settings computes the same virtual time, so a whole stack
  lives days of a parcel's life in minutes with the production code paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 8, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock only holds timezone-aware times")
        self.current = moment


@dataclass(frozen=True)
class ScaledClock:
    real_start: datetime
    virtual_start: datetime
    factor: float

    def now(self) -> datetime:
        elapsed = datetime.now(UTC) - self.real_start
        return self.virtual_start + elapsed * self.factor


def clock_from_spec(spec: str) -> Clock:
    """Build a clock from a setting: `system`, or `scaled:<real ISO>:<virtual ISO>:<factor>`."""
    if spec == "system":
        return SystemClock()
    kind, _, rest = spec.partition(":")
    if kind == "scaled":
        parts = rest.split("|")
        if len(parts) == 3:
            real, virtual, factor = parts
            return ScaledClock(
                real_start=datetime.fromisoformat(real),
                virtual_start=datetime.fromisoformat(virtual),
                factor=float(factor),
            )
    raise ValueError(f"unknown clock {spec!r}: use system or scaled:<real>|<virtual>|<factor>")
