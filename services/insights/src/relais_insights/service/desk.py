"""The level-2 desk: projecting callbacks and escalations into cases, and what agents do.

Rules:
- projection runs in the consumer's transaction with the claim of the event (a
  redelivered event is skipped whole; the case's key makes a replay change nothing);
- every action of an agent takes the case's row lock, is recorded in the audit log
  (record_audit: ids and codes, never the text) and commits with what it publishes:
  an answer (AnswerCustomer) and a closing (SendSurvey, once per case) go through the
  outbox to relais.desk-replies.v1, in the same transaction as the case's change;
- a case of another merchant is not found (None), the same as an unknown one;
- the tombstone of a shipment's state erases its cases, notes and answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from relais_contracts import ids
from relais_contracts.envelope import Event
from relais_contracts.topics import desk_replies
from relais_contracts.topics.anomalies import AnomalyEscalated
from relais_contracts.topics.conversations import CallbackRequested
from relais_contracts.topics.desk_replies import AnswerCustomer, SendSurvey
from relais_insights import desk_repository
from relais_insights.domain.desk import CaseStatus, DeskCase, DeskNote, case_of
from relais_insights.service.office_users import SignedInUser, record_audit
from relais_runtime.db import DbConnection
from relais_runtime.outbox import enqueue

QUEUE_LIMIT = 200


async def project_event(connection: DbConnection, event: Event) -> None:
    """A callback request or an escalation opens (or updates) its case; others add nothing."""
    if isinstance(event, CallbackRequested | AnomalyEscalated):
        await desk_repository.update_case(
            connection, merchant_id=event.merchant_id, case=case_of(event)
        )


async def erase_shipment(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    await desk_repository.delete_shipment_cases(
        connection, merchant_id=merchant_id, shipment_id=shipment_id
    )


@dataclass(frozen=True)
class QueueFilter:
    status: CaseStatus | None = None
    assignee: UUID | None = None
    unassigned: bool = False


@dataclass(frozen=True)
class DeskActor:
    """Who acts on a case: a signed-in user, or an API key (audited by its id, never the
    key itself); `name` signs an answer to the customer."""

    merchant_id: str
    name: str
    user: SignedInUser | None = None
    key_id: str | None = None

    @classmethod
    def of_user(cls, user: SignedInUser) -> DeskActor:
        return cls(merchant_id=user.merchant_id, name=user.display_name, user=user)

    @property
    def author_id(self) -> UUID | None:
        return self.user.user_id if self.user else None

    async def audit(
        self,
        connection: DbConnection,
        action: str,
        case_id: UUID,
        details: Mapping[str, str | None],
        *,
        at: datetime,
    ) -> None:
        if self.key_id is not None:
            details = {**details, "api_key": self.key_id}
        await record_audit(
            connection,
            self.user,
            action,
            str(case_id),
            details,
            merchant_id=self.merchant_id,
            at=at,
        )


@dataclass(frozen=True)
class Desk:
    """The desk's reads, and the actions of an agent or an API key of one merchant."""

    pool: asyncpg.Pool

    async def queue(self, *, merchant_id: str, shown: QueueFilter) -> list[DeskCase]:
        async with self.pool.acquire() as connection:
            return await desk_repository.list_cases(
                connection,
                merchant_id=merchant_id,
                status=shown.status,
                assignee=shown.assignee,
                unassigned=shown.unassigned,
                limit=QUEUE_LIMIT,
            )

    async def case(self, *, merchant_id: str, case_id: UUID) -> DeskCase | None:
        async with self.pool.acquire() as connection:
            found = await desk_repository.get_case(
                connection, merchant_id=merchant_id, case_id=case_id
            )
            if found is None:
                return None
            notes = await desk_repository.list_notes(
                connection, merchant_id=merchant_id, case_id=case_id
            )
            answers = await desk_repository.list_answers(
                connection, merchant_id=merchant_id, case_id=case_id
            )
        return replace(found, notes=notes, answers=answers)

    async def assign(
        self, actor: DeskActor, case_id: UUID, assignee: UUID | None, *, at: datetime
    ) -> bool:
        """`assignee` None: nobody. False when the case is not the user's merchant's."""
        async with self.pool.acquire() as connection, connection.transaction():
            found = await self._locked(connection, actor, case_id)
            if found is None:
                return False
            await desk_repository.update_case_state(
                connection,
                merchant_id=actor.merchant_id,
                case_id=case_id,
                assignee=assignee,
                unassign=assignee is None,
                at=at,
            )
            details = {"assignee": str(assignee) if assignee else None}
            await actor.audit(connection, "desk.assign", case_id, details, at=at)
        return True

    async def set_status(
        self, actor: DeskActor, case_id: UUID, status: CaseStatus, *, at: datetime
    ) -> bool:
        """Done sends the survey (once per case: its event id comes from the case)."""
        async with self.pool.acquire() as connection, connection.transaction():
            found = await self._locked(connection, actor, case_id)
            if found is None:
                return False
            await desk_repository.update_case_state(
                connection, merchant_id=actor.merchant_id, case_id=case_id, status=status, at=at
            )
            if status is CaseStatus.DONE and found.status is not CaseStatus.DONE:
                survey = _survey(actor.merchant_id, found, at=at)
                await enqueue(connection, topic=desk_replies.TOPIC, events=[survey])
            details = {"from": found.status.value, "to": status.value}
            await actor.audit(connection, "desk.status", case_id, details, at=at)
        return True

    async def write(
        self, actor: DeskActor, case_id: UUID, text: str, *, answer: bool, at: datetime
    ) -> bool:
        """An internal note, or an answer to the customer (stored, then sent to the chat)."""
        async with self.pool.acquire() as connection, connection.transaction():
            found = await self._locked(connection, actor, case_id)
            if found is None:
                return False
            note = DeskNote(uuid4(), actor.author_id, actor.name, at, text)
            await desk_repository.create_note(
                connection, merchant_id=actor.merchant_id, case_id=case_id, note=note, answer=answer
            )
            if answer:
                reply = _answer(actor, found, note)
                await enqueue(connection, topic=desk_replies.TOPIC, events=[reply])
            action = "desk.answer" if answer else "desk.note"
            await actor.audit(connection, action, case_id, {"id": str(note.note_id)}, at=at)
        return True

    async def _locked(
        self, connection: DbConnection, actor: DeskActor, case_id: UUID
    ) -> DeskCase | None:
        return await desk_repository.get_case(
            connection, merchant_id=actor.merchant_id, case_id=case_id, lock=True
        )


def _answer(actor: DeskActor, case: DeskCase, note: DeskNote) -> AnswerCustomer:
    return AnswerCustomer(
        event_id=note.note_id,
        occurred_at=note.at,
        merchant_id=actor.merchant_id,
        correlation_id=case.shipment_id,
        shipment_id=case.shipment_id,
        case_id=case.case_id,
        answer_id=note.note_id,
        order_id=case.order_id,
        anomaly_id=case.anomaly_id,
        conversation_id=case.conversation_id,
        locale=case.locale,
        agent_name=actor.name,
        text=note.text,
    )


def _survey(merchant_id: str, case: DeskCase, *, at: datetime) -> SendSurvey:
    return SendSurvey(
        event_id=ids.derived_id("desk-survey", str(case.case_id)),
        occurred_at=at,
        merchant_id=merchant_id,
        correlation_id=case.shipment_id,
        shipment_id=case.shipment_id,
        case_id=case.case_id,
        order_id=case.order_id,
        locale=case.locale,
    )
