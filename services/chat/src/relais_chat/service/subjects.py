"""Finding what a link opens in the chat's read model, scoped by the link's merchant.

Rules:
- a chat link opens an anomaly the chat has learned of (its id is a UUID); the
  conversation is closed once the anomaly is resolved;
- a broadcast's chat link (relais_runtime.links.broadcast_chat_subject) opens its
  scenario for a shipment the chat knows, when that scenario is a broadcast scenario
  of the library; it is never closed by an anomaly;
- a survey link opens a shipment only once it is delivered;
- anything the chat does not know (yet) is None: the page answers 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from relais_chat import repository
from relais_chat.domain.conversation import Subject
from relais_chat.domain.scenarios import Scenario
from relais_contracts import ids
from relais_contracts.catalogue import Milestone
from relais_contracts.topics.conversations import ConversationPurpose
from relais_contracts.tracking import TrackingStatus
from relais_runtime.db import DbConnection
from relais_runtime.links import BroadcastChat, LinkPurpose, parse_broadcast_chat_subject


async def load_subject(
    connection: DbConnection,
    *,
    purpose: LinkPurpose,
    merchant_id: str,
    subject_key: str,
    scenarios: Mapping[str, Scenario],
) -> Subject | None:
    """A chat link names an anomaly or a broadcast, a survey link a shipment."""
    if purpose is LinkPurpose.CHAT:
        broadcast = parse_broadcast_chat_subject(subject_key)
        if broadcast is not None:
            return await load_broadcast_subject(
                connection, merchant_id=merchant_id, broadcast=broadcast, scenarios=scenarios
            )
        return await load_anomaly_subject(
            connection, merchant_id=merchant_id, anomaly_id=subject_key
        )
    return await load_survey_subject(connection, merchant_id=merchant_id, shipment_id=subject_key)


async def load_anomaly_subject(
    connection: DbConnection, *, merchant_id: str, anomaly_id: str
) -> Subject | None:
    try:
        anomaly_uuid = UUID(anomaly_id)
    except ValueError:
        return None
    stored = await repository.get_anomaly(
        connection, merchant_id=merchant_id, anomaly_id=anomaly_uuid
    )
    if stored is None:
        return None
    detected = stored.detected
    state = await repository.get_shipment(
        connection, merchant_id=merchant_id, shipment_id=detected.shipment_id
    )
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


async def load_broadcast_subject(
    connection: DbConnection,
    *,
    merchant_id: str,
    broadcast: BroadcastChat,
    scenarios: Mapping[str, Scenario],
) -> Subject | None:
    scenario = scenarios.get(broadcast.scenario_id)
    if scenario is None or scenario.purpose != "broadcast":
        return None
    state = await repository.get_shipment(
        connection, merchant_id=merchant_id, shipment_id=broadcast.shipment_id
    )
    if state is None:
        return None
    return Subject(
        purpose=ConversationPurpose.ANOMALY,
        subject_id=broadcast.campaign_message_id,
        merchant_id=merchant_id,
        shipment_id=broadcast.shipment_id,
        anomaly_type=None,
        context=state.context(),
        state=state,
        closed=False,
        broadcast_scenario=scenario.scenario_id,
    )


async def load_survey_subject(
    connection: DbConnection, *, merchant_id: str, shipment_id: str
) -> Subject | None:
    """A survey opens only once the shipment is delivered."""
    state = await repository.get_shipment(
        connection, merchant_id=merchant_id, shipment_id=shipment_id
    )
    if state is None or state.status is not TrackingStatus.DELIVERED:
        return None
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
