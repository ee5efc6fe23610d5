"""Durable wake-ups: a timer decides nothing, it only makes the facts be evaluated again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TimerKind(StrEnum):
    SHIP_BY = "ship_by"
    PROMISED_DELIVERY = "promised_delivery"
    NEXT_SCAN = "next_scan"
    LOST_AFTER = "lost_after"
    PICKUP_HOLD = "pickup_hold"
    ESCALATION = "escalation"


@dataclass(frozen=True)
class Timer:
    """A durable wake-up: one per (shipment, key)."""

    key: str
    kind: TimerKind
    due_at: datetime


def timer_order(timer: Timer) -> tuple[datetime, str]:
    """Timers are listed earliest first, ties broken by key, so a decision is reproducible."""
    return timer.due_at, timer.key
