"""Finding what a link opens in the chat's read model, scoped by the link's merchant.

Rules:
- a chat link opens an anomaly the chat has learned of (its id is a UUID); the
  conversation is closed once the anomaly is resolved;
- a broadcast's chat link (relais_runtime.links.broadcast_chat_subject) opens its
  scenario for a shipment the chat knows, when that scenario is a broadcast scenario
  of the library; it is never closed by an anomaly;
- a survey link opens a shipment only once it is delivered;
- anything the chat does not know (yet) is None: the page answers 404;
- a page reads its subject with its conversation, timeline and desk answers in one
  statement (`read_subject`: one short transaction per view).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from relais_chat import repository
from relais_chat.domain.conversation import Subject
from relais_chat.domain.scenarios import Scenario
from relais_chat.repository import ConversationPageRead, StoredAnomaly
from relais_contracts import ids
from relais_contracts.catalogue import Milestone
from relais_contracts.topics.conversations import ConversationPurpose
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import TrackingStatus
from relais_runtime.db import DbConnection
from relais_runtime.links import BroadcastChat, LinkPurpose, parse_broadcast_chat_subject


@dataclass(frozen=True)
class SubjectRef:
    """What a link's subject names, before anything is read: an anomaly, or a shipment
    (a survey's, or a broadcast's with its scenario and campaign message)."""

    purpose: LinkPurpose
    merchant_id: str
    anomaly_id: UUID | None = None
    shipment_id: str | None = None
    broadcast: BroadcastChat | None = None

    @property
    def subject_id(self) -> UUID:
        """The conversation's subject: the anomaly, the campaign message, or the delivery."""
        if self.anomaly_id is not None:
            return self.anomaly_id
        if self.broadcast is not None:
            return self.broadcast.campaign_message_id
        assert self.shipment_id is not None
        return ids.milestone_id(self.merchant_id, self.shipment_id, Milestone.DELIVERED.value)

    @property
    def conversation_id(self) -> UUID:
        return ids.conversation_id(self.merchant_id, self.subject_id)


def subject_ref(
    *,
    purpose: LinkPurpose,
    merchant_id: str,
    subject_key: str,
    scenarios: Mapping[str, Scenario],
) -> SubjectRef | None:
    """The link's subject, parsed; None when it can name nothing (not an anomaly id, or
    a broadcast scenario the library does not have)."""
    if purpose is not LinkPurpose.CHAT:
        return SubjectRef(purpose, merchant_id, shipment_id=subject_key)
    broadcast = parse_broadcast_chat_subject(subject_key)
    if broadcast is not None:
        scenario = scenarios.get(broadcast.scenario_id)
        if scenario is None or scenario.purpose != "broadcast":
            return None
        return SubjectRef(
            purpose, merchant_id, shipment_id=broadcast.shipment_id, broadcast=broadcast
        )
    try:
        return SubjectRef(purpose, merchant_id, anomaly_id=UUID(subject_key))
    except ValueError:
        return None


async def read_subject(
    connection: DbConnection, ref: SubjectRef
) -> tuple[Subject | None, ConversationPageRead]:
    """The subject and all its page shows, in one statement; the desk's answers only
    on a chat page."""
    read = await repository.get_conversation_page(
        connection,
        merchant_id=ref.merchant_id,
        anomaly_id=ref.anomaly_id,
        shipment_id=ref.shipment_id,
        conversation_id=ref.conversation_id,
        answers_about=ref.subject_id if ref.purpose is LinkPurpose.CHAT else None,
    )
    return subject_of(ref, anomaly=read.anomaly, state=read.state), read


def subject_of(
    ref: SubjectRef, *, anomaly: StoredAnomaly | None, state: ShipmentStateChanged | None
) -> Subject | None:
    """The subject from what was read (the rules of the module)."""
    if ref.anomaly_id is not None:
        return None if anomaly is None else anomaly_subject(ref.merchant_id, anomaly, state)
    if state is None:
        return None
    if ref.broadcast is not None:
        return broadcast_subject(ref.merchant_id, ref.broadcast, state)
    return survey_subject(ref.merchant_id, state)


def anomaly_subject(
    merchant_id: str, stored: StoredAnomaly, state: ShipmentStateChanged | None
) -> Subject:
    detected = stored.detected
    return Subject(
        purpose=ConversationPurpose.ANOMALY,
        subject_id=detected.anomaly_id,
        merchant_id=merchant_id,
        shipment_id=detected.shipment_id,
        anomaly_type=detected.anomaly_type,
        context=state.context() if state else detected.shipment,
        state=state,
        closed=stored.resolved_at is not None,
    )


def broadcast_subject(
    merchant_id: str, broadcast: BroadcastChat, state: ShipmentStateChanged
) -> Subject:
    return Subject(
        purpose=ConversationPurpose.ANOMALY,
        subject_id=broadcast.campaign_message_id,
        merchant_id=merchant_id,
        shipment_id=broadcast.shipment_id,
        anomaly_type=None,
        context=state.context(),
        state=state,
        closed=False,
        broadcast_scenario=broadcast.scenario_id,
    )


def survey_subject(merchant_id: str, state: ShipmentStateChanged) -> Subject | None:
    """A survey opens only once the shipment is delivered."""
    if state.status is not TrackingStatus.DELIVERED:
        return None
    shipment_id = state.shipment_id
    return Subject(
        purpose=ConversationPurpose.SURVEY,
        subject_id=ids.milestone_id(merchant_id, shipment_id, Milestone.DELIVERED.value),
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        anomaly_type=None,
        context=state.context(),
        state=state,
        closed=False,
    )
