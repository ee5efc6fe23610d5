"""Opening and answering conversations: the steps between a page and the database.

Rules:
- one conversation per subject (an anomaly, a shipment's delivery for the survey, or
  a broadcast's campaign message), id `ids.conversation_id(merchant, subject)`: the
  first device to open the link creates it (and publishes ConversationStarted),
  every other device and every later visit resumes it;
- an answer is applied under a row lock on the conversation and recorded once per
  step (`answers` is unique on (conversation, step)): a double submit or a replay
  from another device changes nothing and publishes nothing;
- the state change and its events (answers, resolution, callback, survey) commit
  in one transaction through the outbox;
- a conversation whose anomaly was resolved meanwhile accepts nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from uuid import UUID

from relais_chat import repository
from relais_chat.domain import engine, events
from relais_chat.domain.conversation import (
    ConversationStatus,
    Subject,
    customer_locale,
    customer_zone,
)
from relais_chat.domain.engine import Accepted, CallbackAsked, Progress, Rejected
from relais_chat.domain.forms import FormContext
from relais_chat.domain.offers import offered_to
from relais_chat.domain.scenarios import Scenario
from relais_chat.domain.translations import language_of
from relais_chat.ui import presentation, words
from relais_chat.ui.transcript import Reader, Voice, said_lines
from relais_contracts import ids
from relais_contracts.topics import conversations as topic
from relais_contracts.topics.conversations import (
    AbandonReason,
    ConversationAbandoned,
    EntryPoint,
)
from relais_contracts.transcript import TranscriptLine
from relais_runtime.db import DbConnection
from relais_runtime.merchants import MerchantConfig
from relais_runtime.outbox import enqueue


def scenario_for(
    merchant: MerchantConfig, subject: Subject, scenarios: Mapping[str, Scenario]
) -> Scenario:
    """The merchant's scenario for the subject, offering only what its actions allow."""
    if subject.broadcast_scenario is not None:
        return offered(merchant, scenarios[subject.broadcast_scenario])
    if subject.anomaly_type is None:
        return scenarios[merchant.chat.survey_scenario]
    return offered(merchant, scenarios[merchant.chat.scenario_for(subject.anomaly_type)])


def offered(merchant: MerchantConfig, scenario: Scenario) -> Scenario:
    """The scenario without the choices the merchant's allowed actions cannot fulfil.

    Pure, and asked on every page view: remembered per (scenario instance, allowed
    actions); the entry keeps its scenario, so an id is never taken for another's."""
    allowed = merchant.actions.allowed if merchant.actions else None
    key = (id(scenario), None if allowed is None else frozenset(allowed))
    found = _OFFERED.get(key)
    if found is not None and found[0] is scenario:
        return found[1]
    result = offered_to(scenario, allowed)
    if len(_OFFERED) >= _OFFERED_MAX:
        _OFFERED.clear()
    _OFFERED[key] = (scenario, result)
    return result


_OFFERED: dict[tuple[int, frozenset[object] | None], tuple[Scenario, Scenario]] = {}
_OFFERED_MAX = 256


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
        campaign_message_id=subject.campaign_message_id,
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
        if stored is None or stored.status is not ConversationStatus.OPEN or subject.closed:
            return None
        scenario = offered(merchant, scenarios[stored.scenario_id])
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
            status=ConversationStatus.after(result.progress),
            now=now,
        )
        ref = reference(merchant, subject, scenario, locale=stored.locale)
        transcript: tuple[TranscriptLine, ...] = ()
        if any(isinstance(output, CallbackAsked) for output in result.outputs):
            transcript = await said_so_far(
                connection, merchant, subject, scenario, stored, result.progress
            )
        published = events.events_for(
            ref, result.outputs, submission=submission, now=now, transcript=transcript
        )
        await enqueue(connection, topic=topic.TOPIC, events=published)
    return None


async def said_so_far(
    connection: DbConnection,
    merchant: MerchantConfig,
    subject: Subject,
    scenario: Scenario,
    stored: repository.StoredConversation,
    progress: Progress,
) -> tuple[TranscriptLine, ...]:
    """The conversation as the customer's page shows it, in their language and zone."""
    zone = customer_zone(merchant, subject.state)
    locale = stored.locale
    values = presentation.placeholder_values(
        merchant=merchant, context=subject.context, state=subject.state, locale=locale, zone=zone
    )
    started_at, answered_at = await repository.list_said_times(
        connection, conversation_id=stored.conversation_id
    )
    return said_lines(
        progress,
        scenario,
        say=Voice(language_of(locale), merchant.branding.tone, values),
        reader=Reader(locale, zone, partial(words.say, words.ui_language(locale))),
        started_at=started_at,
        answered_at=answered_at,
    )


async def abandon_for_resolution(
    connection: DbConnection, *, merchant_id: str, anomaly_id: UUID, now: datetime
) -> None:
    """The facts closed the anomaly: an open conversation ends without a resolution."""
    conversation_id = ids.conversation_id(merchant_id, anomaly_id)
    stored = await repository.get_conversation(
        connection, merchant_id=merchant_id, conversation_id=conversation_id, lock=True
    )
    if stored is None or stored.status is not ConversationStatus.OPEN:
        return
    await repository.update_conversation(
        connection, conversation_id=conversation_id, status=ConversationStatus.ABANDONED, now=now
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
