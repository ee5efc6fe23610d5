"""The actions service's consumers: decode, call the application, publish.

Rules:
- each handler matches the event types it handles, returns early for the types of its
  topic it ignores on purpose (named), and dead-letters any other (`unexpected_event`);
- what the application asks to publish is enqueued in the message's transaction
  (outbox), in order: a command is handled one per transaction, so a webhook call is
  never rolled back with others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from relais_actions import repository
from relais_actions.service import Decisions, Executor, Outgoing
from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.topics import anomalies, conversations
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.conversations import (
    AnswerRecorded,
    CallbackRequested,
    ConversationAbandoned,
    ConversationStarted,
    ResolutionChosen,
    SurveyAnswered,
    TrackingPageViewed,
)
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_runtime.clock import Clock
from relais_runtime.consumer import MessageContext
from relais_runtime.db import DbConnection
from relais_runtime.failures import unexpected_event
from relais_runtime.outbox import enqueue, forget_key


async def publish(connection: DbConnection, outgoing: Sequence[Outgoing]) -> None:
    for message in outgoing:
        await enqueue(connection, topic=message.topic, events=[message.event])


@dataclass(frozen=True)
class DecisionConsumer:
    """The conversations and anomalies topics: each choice or anomaly may become an action."""

    decisions: Decisions

    async def on_conversation(self, event: Event, context: MessageContext) -> None:
        connection = context.connection
        match event:
            case ResolutionChosen():
                outgoing = await self.decisions.resolution_chosen(connection, event)
            case CallbackRequested():
                outgoing = await self.decisions.callback_requested(connection, event)
            case (
                ConversationStarted()
                | AnswerRecorded()
                | SurveyAnswered()
                | ConversationAbandoned()
                | TrackingPageViewed()
            ):
                return  # they ask nothing of the merchant's systems
            case _:
                unexpected_event(event, where=conversations.TOPIC.name)
        await publish(connection, outgoing)

    async def on_anomaly(self, event: Event, context: MessageContext) -> None:
        """Keeps the shipment snapshots the chat's events do not carry."""
        if not self.decisions.serves(event.merchant_id):
            return  # another deployment's merchant
        connection = context.connection
        match event:
            case AnomalyDetected():
                await publish(connection, await self.decisions.anomaly_detected(connection, event))
            case AnomalyEscalated() | ShipmentMilestoneReached():
                await self.decisions.shipment_seen(connection, event)
            case AnomalyResolved():
                await self.decisions.anomaly_resolved(connection, event)
            case _:
                unexpected_event(event, where=anomalies.TOPIC.name)


@dataclass(frozen=True)
class CommandConsumer:
    """The command topic or one of its retry tiers, one command per transaction."""

    executor: Executor
    group: str
    """The consumer group as named in dead letters (with the runtime's prefix)."""

    async def __call__(self, event: Event, context: MessageContext) -> None:
        match event:
            case ExecuteAction():
                outgoing = await self.executor.execute(event, context, group=self.group)
                await publish(context.connection, outgoing)
            case _:
                unexpected_event(event, where=context.topic)


@dataclass(frozen=True)
class ErasureConsumer:
    """The shipment state, for its tombstones only: an erased shipment's actions are
    anonymised (relais_actions.repository.update_actions_erased) and its events still in
    the outbox (commands carrying addresses, phones and notes) deleted."""

    clock: Clock

    async def on_shipment_state(self, event: Event, context: MessageContext) -> None:
        match event:
            case ShipmentStateChanged():
                return  # the shipment's facts come with its anomalies and choices
            case _:
                unexpected_event(event, where=context.topic)

    async def on_shipment_erased(self, key: bytes, context: MessageContext) -> None:
        merchant_id, shipment_id = split_partition_key(key)
        await repository.update_actions_erased(
            context.connection,
            merchant_id=merchant_id,
            shipment_id=shipment_id,
            now=self.clock.now(),
        )
        await forget_key(context.connection, key=key)


def due_time(event: Event) -> datetime | None:
    """A retry tier's command is due at its `not_before`; anything else is due now."""
    return event.not_before if isinstance(event, ExecuteAction) else None
