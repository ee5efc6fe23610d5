"""Where an order stands, as the tracking page shows it: the progress stepper and the
promise against the current estimate.

Rules:
- the stepper has five steps: ordered, prepared, shipped, then out for delivery (home)
  or ready for pickup (pickup point, or a home parcel held at a depot), then delivered;
- every step before the current one is done, the current one is marked (and flagged
  when something is wrong there: a failed attempt, an exception, no news), the rest
  are to come;
- a parcel is late when it has not arrived (delivered, or waiting at a pickup point)
  and the carrier's estimate is past the promised day, or the promised day is over;
  the reason is the carrier's normalized fact (the substatus) when it reports a
  problem or an incident, else unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from relais_contracts.common import DeliveryMode
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_runtime.merchants.tracking_page import Stage

_PROBLEMS = frozenset(
    {TrackingStatus.FAILED_ATTEMPT, TrackingStatus.EXCEPTION, TrackingStatus.EXPIRED}
)


class StepState(StrEnum):
    DONE = "done"
    CURRENT = "current"
    UPCOMING = "upcoming"


@dataclass(frozen=True)
class Step:
    stage: Stage
    state: StepState
    problem: bool = False


def current_stage(state: ShipmentStateChanged) -> Stage:
    status = state.status
    if status is TrackingStatus.DELIVERED:
        return Stage.DELIVERED
    if status is TrackingStatus.AVAILABLE_FOR_PICKUP:
        return Stage.READY_FOR_PICKUP
    if status in (TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.FAILED_ATTEMPT):
        return Stage.OUT_FOR_DELIVERY if _home(state) else Stage.SHIPPED
    if state.shipped_at is not None or status in (TrackingStatus.IN_TRANSIT, *_PROBLEMS):
        return _shipped_or_before(state)
    if status is TrackingStatus.INFO_RECEIVED or state.tracking_number is not None:
        return Stage.PREPARED
    return Stage.ORDERED


def _shipped_or_before(state: ShipmentStateChanged) -> Stage:
    """A problem before the parcel left (cancelled, rejected) stays at its earlier step."""
    if state.shipped_at is not None or state.status is TrackingStatus.IN_TRANSIT:
        return Stage.SHIPPED
    return Stage.PREPARED if state.tracking_number is not None else Stage.ORDERED


def _home(state: ShipmentStateChanged) -> bool:
    return state.delivery.mode is DeliveryMode.HOME


def stages_for(state: ShipmentStateChanged) -> tuple[Stage, ...]:
    held = state.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    last_leg = Stage.OUT_FOR_DELIVERY if _home(state) and not held else Stage.READY_FOR_PICKUP
    return (Stage.ORDERED, Stage.PREPARED, Stage.SHIPPED, last_leg, Stage.DELIVERED)


def stepper(state: ShipmentStateChanged) -> list[Step]:
    stages = stages_for(state)
    current = stages.index(current_stage(state))
    problem = state.status in _PROBLEMS or state.cancelled
    steps = []
    for index, stage in enumerate(stages):
        if index < current:
            steps.append(Step(stage, StepState.DONE))
        elif index == current:
            steps.append(Step(stage, StepState.CURRENT, problem))
        else:
            steps.append(Step(stage, StepState.UPCOMING))
    return steps


@dataclass(frozen=True)
class Outlook:
    """The promise and the carrier's estimate side by side."""

    promised: date | None
    estimated: date | None
    late: bool
    reason: Substatus | None
    """The carrier's fact behind the delay; None when late for no reason given."""


def outlook(state: ShipmentStateChanged, *, today: date) -> Outlook:
    promised = state.promised_delivery_by
    estimated = state.estimated_delivery.day if state.estimated_delivery else None
    arrived = state.delivered_at is not None or state.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    late = (
        not arrived
        and not state.cancelled
        and promised is not None
        and ((estimated is not None and estimated > promised) or today > promised)
    )
    problem = state.incident is not None or state.status in _PROBLEMS
    return Outlook(
        promised=promised,
        estimated=estimated,
        late=late,
        reason=state.substatus if late and problem else None,
    )
