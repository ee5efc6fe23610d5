"""The level-2 desk's cases (pure): what a callback or an escalation opens, and the
time left.

Rules:
- a callback request opens one case (case id = callback id), due at the start of the
  slot the customer asked for, with the transcript it carries;
- an escalated anomaly opens one case per anomaly (case id derived from the anomaly
  id): a further escalation raises its level and may bring its due time forward, never
  reopens a done case; it is due at the escalation's deadline, else ESCALATION_DUE after
  the escalation;
- statuses go new -> in progress -> done in any order an agent chooses (an agent may
  reopen a case); time left is due time minus now, negative when overdue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from relais_contracts import ids
from relais_contracts.topics.anomalies import AnomalyEscalated
from relais_contracts.topics.conversations import CallbackRequested

ESCALATION_DUE: Final = timedelta(hours=4)
"""How long the desk has for an escalation that names no deadline."""


class CaseKind(StrEnum):
    CALLBACK = "callback"
    ESCALATION = "escalation"


class CaseStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@dataclass(frozen=True)
class DeskCase:
    case_id: UUID
    shipment_id: str
    order_id: str
    kind: CaseKind
    due_at: datetime
    opened_at: datetime
    anomaly_id: UUID | None = None
    anomaly_type: str | None = None
    conversation_id: UUID | None = None
    phone: str | None = None
    note: str | None = None
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    time_zone: str | None = None
    locale: str | None = None
    level: int = 0
    transcript: tuple[dict[str, Any], ...] = ()
    status: CaseStatus = CaseStatus.NEW
    assignee: UUID | None = None
    order_number: str | None = None
    updated_at: datetime | None = None
    notes: tuple[DeskNote, ...] = field(default=())
    answers: tuple[DeskNote, ...] = field(default=())

    def time_left(self, now: datetime) -> timedelta:
        return self.due_at - now

    def transcript_json(self) -> str:
        return json.dumps(list(self.transcript))


@dataclass(frozen=True)
class DeskNote:
    """An internal note or an answer sent to the customer."""

    note_id: UUID
    author_id: UUID | None
    author_name: str | None
    at: datetime
    text: str


def escalation_case_id(anomaly_id: UUID) -> UUID:
    return ids.derived_id("desk-escalation", str(anomaly_id))


def case_of(event: CallbackRequested | AnomalyEscalated) -> DeskCase:
    if isinstance(event, CallbackRequested):
        return DeskCase(
            case_id=event.callback_id,
            shipment_id=event.shipment_id,
            order_id=event.order_id,
            kind=CaseKind.CALLBACK,
            due_at=event.slot.start,
            opened_at=event.occurred_at,
            anomaly_id=event.anomaly_id,
            anomaly_type=event.anomaly_type.value if event.anomaly_type else None,
            conversation_id=event.conversation_id,
            phone=event.phone,
            note=event.note,
            slot_start=event.slot.start,
            slot_end=event.slot.end,
            time_zone=event.time_zone,
            locale=event.locale,
            transcript=tuple(line.model_dump(mode="json") for line in event.transcript),
        )
    return DeskCase(
        case_id=escalation_case_id(event.anomaly_id),
        shipment_id=event.shipment_id,
        order_id=event.shipment.order_id,
        kind=CaseKind.ESCALATION,
        due_at=event.deadline_at or event.occurred_at + ESCALATION_DUE,
        opened_at=event.occurred_at,
        anomaly_id=event.anomaly_id,
        anomaly_type=event.anomaly_type.value,
        conversation_id=ids.conversation_id(event.merchant_id, event.anomaly_id),
        level=event.level,
    )


def time_left_words(left: timedelta) -> tuple[bool, int, int]:
    """(overdue, hours, minutes) of a time left, rounded down to the minute."""
    overdue = left < timedelta(0)
    minutes = int(abs(left).total_seconds() // 60)
    return overdue, minutes // 60, minutes % 60
