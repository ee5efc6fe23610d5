"""Opening and answering conversations: the steps between a page and the database.

Rules:
- one conversation per subject (an anomaly, or a shipment's delivery for the
  survey), id `ids.conversation_id(merchant, subject)`: the first device to open
  the link creates it (and publishes ConversationStarted), every other device and
  every later visit resumes it;
- an answer is applied under a row lock on the conversation and recorded once per
  step (`answers` is unique on (conversation, step)): a double submit or a replay
  from another device changes nothing and publishes nothing;
- the state change and its events (answers, resolution, callback, survey) commit
  in one transaction through the outbox;
- a conversation whose anomaly was resolved meanwhile accepts nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from relais_chat import repository
from relais_chat.domain import engine, events
from relais_chat.domain.engine import Accepted, Rejected
from relais_chat.domain.forms import FormContext
from relais_chat.domain.scenarios import Scenario
from relais_chat.domain.texts import language_of
from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType, Milestone
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics import conversations as topic
from relais_contracts.topics.conversations import (
    AbandonReason,
    ConversationAbandoned,
    ConversationPurpose,
    EntryPoint,
)
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import TrackingStatus
from relais_runtime.db import DbConnection
from relais_runtime.merchants import MerchantConfig
from relais_runtime.outbox import enqueue


@dataclass(frozen=True)
class Subject:
    """What a link opens, as the chat's read model knows it."""

    purpose: ConversationPurpose
    subject_id: UUID
    merchant_id: str
    shipment_id: str
    anomaly_type: AnomalyType | None
    context: ShipmentContext
    state: ShipmentStateChanged | None
    closed: bool


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


def customer_locale(merchant: MerchantConfig, state: ShipmentStateChanged | None) -> str:
    """The customer's locale if the merchant speaks its language, else the merchant's first."""
    if state is not None:
        wanted = state.customer.locale
        for locale in merchant.locales:
            if language_of(locale) == language_of(wanted):
                return wanted
    return merchant.locales[0]


def customer_zone(merchant: MerchantConfig, state: ShipmentStateChanged | None) -> str:
    return state.customer.time_zone if state is not None else merchant.time_zone


def scenario_for(
    merchant: MerchantConfig, subject: Subject, scenarios: Mapping[str, Scenario]
) -> Scenario:
    if subject.anomaly_type is None:
        return scenarios[merchant.chat.survey_scenario]
    return scenarios[merchant.chat.scenario_for(subject.anomaly_type)]


def reference(
    merchant: MerchantConfig, subject: Subject, scenario: Scenario, *, locale: str
) -> events.ConversationRef:
    return events.ConversationRef(
        conversation_id=ids.conversation_id(merchant.merchant_id, subject.subject_id),
        merchant_id=merchant.merchant_id,
        shipment_id=subject.shipment_id,
        order_id=subject.context.order_id,
        purpose=subject.purpose,
        subject_id=subject.subject_id,
        anomaly_type=subject.anomaly_type,
        scenario_id=scenario.scenario_id,
        scenario_version=scenario.version,
        locale=locale,
        time_zone=customer_zone(merchant, subject.state),
    )


async def get_or_start(
    connection: DbConnection,
    *,
    merchant: MerchantConfig,
    subject: Subject,
    scenarios: Mapping[str, Scenario],
    entry: EntryPoint,
    now: datetime,
) -> repository.StoredConversation | None:
    """The subject's conversation, created on the first visit; None if closed before any."""
    conversation_id = ids.conversation_id(merchant.merchant_id, subject.subject_id)
    existing = await repository.get_conversation(
        connection, merchant_id=merchant.merchant_id, conversation_id=conversation_id
    )
    if existing is not None or subject.closed:
        return existing
    scenario = scenario_for(merchant, subject, scenarios)
    locale = customer_locale(merchant, subject.state)
    ref = reference(merchant, subject, scenario, locale=locale)
    first = engine.begin(scenario)
    async with connection.transaction():
        created = await repository.create_conversation(
            connection,
            conversation_id=conversation_id,
            merchant_id=merchant.merchant_id,
            shipment_id=subject.shipment_id,
            purpose=subject.purpose.value,
            subject_id=subject.subject_id,
            anomaly_type=subject.anomaly_type.value if subject.anomaly_type else None,
            scenario_id=scenario.scenario_id,
            scenario_version=scenario.version,
            locale=locale,
            progress=first.progress,
            now=now,
        )
        if created:
            published = [
                events.started(ref, entry=entry, now=now),
                *events.events_for(ref, first.outputs, submission="start", now=now),
            ]
            await enqueue(connection, topic=topic.TOPIC, events=published)
    return await repository.get_conversation(
        connection, merchant_id=merchant.merchant_id, conversation_id=conversation_id
    )


async def answer(
    connection: DbConnection,
    *,
    merchant: MerchantConfig,
    subject: Subject,
    scenarios: Mapping[str, Scenario],
    node_id: str,
    step: int,
    form: Mapping[str, str],
    context: FormContext,
    now: datetime,
) -> Rejected | None:
    """Apply one submission; returns the errors of an invalid one, None otherwise."""
    conversation_id = ids.conversation_id(merchant.merchant_id, subject.subject_id)
    async with connection.transaction():
        stored = await repository.get_conversation(
            connection,
            merchant_id=merchant.merchant_id,
            conversation_id=conversation_id,
            lock=True,
        )
        if stored is None or stored.status != "open" or subject.closed:
            return None
        scenario = scenarios[stored.scenario_id]
        result = engine.submit(
            scenario, stored.progress, node_id=node_id, step=step, form=form, context=context
        )
        if isinstance(result, Rejected):
            return result
        if not isinstance(result, Accepted):
            return None
        submission = str(step)
        if not await repository.create_answer(
            connection,
            answer_id=ids.answer_id(conversation_id, node_id, submission),
            conversation_id=conversation_id,
            node_id=node_id,
            step=step,
            now=now,
        ):
            return None
        await repository.update_conversation(
            connection,
            conversation_id=conversation_id,
            progress=result.progress,
            status="finished" if result.progress.finished else "open",
            now=now,
        )
        ref = reference(merchant, subject, scenario, locale=stored.locale)
        published = events.events_for(ref, result.outputs, submission=submission, now=now)
        await enqueue(connection, topic=topic.TOPIC, events=published)
    return None


async def abandon_for_resolution(
    connection: DbConnection, *, merchant_id: str, anomaly_id: UUID, now: datetime
) -> None:
    """The facts closed the anomaly: an open conversation ends without a resolution."""
    conversation_id = ids.conversation_id(merchant_id, anomaly_id)
    stored = await repository.get_conversation(
        connection, merchant_id=merchant_id, conversation_id=conversation_id, lock=True
    )
    if stored is None or stored.status != "open":
        return
    await repository.update_conversation(
        connection, conversation_id=conversation_id, status="abandoned", now=now
    )
    abandoned = ConversationAbandoned(
        event_id=ids.derived_id("conversation-abandoned", str(conversation_id)),
        occurred_at=now,
        merchant_id=merchant_id,
        correlation_id=stored.shipment_id,
        shipment_id=stored.shipment_id,
        conversation_id=conversation_id,
        reason=AbandonReason.ANOMALY_RESOLVED,
        last_node_id=stored.progress.node_id,
        last_activity_at=stored.updated_at,
    )
    await enqueue(connection, topic=topic.TOPIC, events=[abandoned])
