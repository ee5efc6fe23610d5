"""The actions service's consumers (thin: decode, call the domain, persist and publish).

Subscriptions (consumer groups under the runtime's prefix):
- actions.conversations: ResolutionChosen and CallbackRequested -> policy -> an
  ExecuteAction on the command topic, or a refusal on the results topic;
- actions.anomalies: keeps the shipment snapshots the chat's events do not carry,
  records resolutions (they expire pending actions) and runs automatic actions;
- actions.executor: the command topic, attempt 1. It never sleeps: a slow merchant
  costs at most its webhook timeout, then its command moves to a retry tier (and an
  open circuit moves it without calling);
- actions.retry-*: one per retry tier, each command handled once its `not_before` has
  passed on the service's clock (the runtime pauses a tier's partition until then).

Rules: a command or a decision for a merchant this deployment does not configure is
dead-lettered (PermanentError); a choice whose shipment snapshot has not arrived yet
from the anomalies topic is tried again a few times (NotYetError), since both topics
are read concurrently, then dead-lettered as `dependency_missing` (replayable). Commands
are handled one per transaction: a webhook call is never rolled back with others.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from relais_actions import repository
from relais_actions.domain import policy
from relais_actions.domain.breaker import BreakerBoard
from relais_actions.domain.policy import Decision, Execute, Source
from relais_actions.executor import Executor
from relais_actions.settings import ActionsSettings
from relais_actions.webhook import Endpoint
from relais_contracts.envelope import Event
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics import action_commands, action_results, anomalies, conversations
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.conversations import CallbackRequested, ResolutionChosen
from relais_runtime.clock import Clock, SystemClock
from relais_runtime.consumer import (
    Handler,
    MessageContext,
    NotYetError,
    PermanentError,
    Subscription,
)
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig
from relais_runtime.metrics import ACTIONS_DECIDED
from relais_runtime.outbox import enqueue
from relais_runtime.service import Dependencies, Wiring

log = get_logger(__name__)

CONVERSATIONS_GROUP = "actions.conversations"
ANOMALIES_GROUP = "actions.anomalies"
EXECUTOR_GROUP = "actions.executor"


@dataclass(frozen=True)
class ActionsRuntime:
    """What the service is given at start: configuration, clients, time, randomness."""

    settings: ActionsSettings
    merchants: Mapping[str, MerchantConfig]
    endpoints: Mapping[str, Endpoint]
    http: httpx.AsyncClient
    clock: Clock
    rng: random.Random
    wall_clock: Clock = field(default_factory=SystemClock)
    """Real time, for webhook signatures, whatever `clock` is (a scaled demo clock)."""


@dataclass(frozen=True)
class PolicyHandlers:
    merchants: Mapping[str, MerchantConfig]

    def merchant(self, merchant_id: str) -> MerchantConfig:
        config = self.merchants.get(merchant_id)
        if config is None:
            raise PermanentError(f"merchant {merchant_id!r} is not configured")
        return config

    async def on_conversation(self, event: Event, context: MessageContext) -> None:
        if isinstance(event, ResolutionChosen):
            shipment = await self._snapshot(context.connection, event)
            source = policy.source_of_resolution(event, shipment=shipment)
        elif isinstance(event, CallbackRequested):
            shipment = await self._snapshot(context.connection, event)
            source = policy.source_of_callback(event, shipment=shipment)
        else:
            return
        if source is not None:
            await self._decide(context.connection, source)

    async def on_anomaly(self, event: Event, context: MessageContext) -> None:
        if event.merchant_id not in self.merchants:
            return
        connection = context.connection
        if isinstance(event, AnomalyDetected | AnomalyEscalated | ShipmentMilestoneReached):
            await repository.update_shipment(
                connection,
                merchant_id=event.merchant_id,
                shipment_id=event.shipment_id,
                context=event.shipment,
                seen_at=event.occurred_at,
            )
        if isinstance(event, AnomalyDetected):
            await repository.get_or_create_anomaly(
                connection,
                merchant_id=event.merchant_id,
                anomaly_id=event.anomaly_id,
                shipment_id=event.shipment_id,
                anomaly_type=event.anomaly_type.value,
                context=event.shipment,
                detected_at=event.occurred_at,
            )
            source = policy.source_of_anomaly(
                event, config=self.merchant(event.merchant_id).actions
            )
            if source is not None:
                await self._decide(connection, source)
        elif isinstance(event, AnomalyResolved):
            await repository.update_anomaly(
                connection,
                merchant_id=event.merchant_id,
                anomaly_id=event.anomaly_id,
                resolved_at=event.occurred_at,
                resolution_reason=event.reason,
            )

    async def _snapshot(
        self, connection: DbConnection, event: ResolutionChosen | CallbackRequested
    ) -> ShipmentContext:
        """The anomaly's snapshot, else the shipment's latest; NotYetError if none yet."""
        self.merchant(event.merchant_id)
        if event.anomaly_id is not None:
            row = await repository.get_anomaly(
                connection, merchant_id=event.merchant_id, anomaly_id=event.anomaly_id
            )
            if row is not None:
                return row.shipment
        shipment = await repository.get_shipment(
            connection, merchant_id=event.merchant_id, shipment_id=event.shipment_id
        )
        if shipment is None:
            raise NotYetError("the shipment's snapshot has not arrived from the anomalies topic")
        return shipment

    async def _decide(self, connection: DbConnection, source: Source) -> None:
        resolution = None
        if source.anomaly_id is not None:
            row = await repository.get_anomaly(
                connection, merchant_id=source.merchant_id, anomaly_id=source.anomaly_id
            )
            resolution = row.resolution_reason if row is not None else None
        decision = policy.decide(
            source, config=self.merchant(source.merchant_id).actions, anomaly_resolution=resolution
        )
        await persist_decision(connection, decision)


async def persist_decision(connection: DbConnection, decision: Decision) -> None:
    """Record the decision once; publish its command or its refusal in the same transaction."""
    if isinstance(decision, Execute):
        if await repository.create_action(connection, command=decision.command):
            await enqueue(connection, topic=action_commands.TOPIC, events=[decision.command])
            outcome, action = "execute", decision.command.action_type
            log.info("action decided", action_id=str(decision.command.action_id), decision=outcome)
            ACTIONS_DECIDED.labels(action=action.value, decision=outcome).inc()
        return
    if await repository.create_action(connection, refused=decision.result):
        await enqueue(connection, topic=action_results.TOPIC, events=[decision.result])
        outcome = decision.result.reason.value
        log.info("action refused", action_id=str(decision.result.action_id), reason=outcome)
        ACTIONS_DECIDED.labels(action=decision.result.action.value, decision=outcome).inc()


def executor_handler(executor: Executor, *, group: str) -> Handler:
    async def handle(event: Event, context: MessageContext) -> None:
        if isinstance(event, ExecuteAction):
            await executor.execute(event, context, group=group)

    return handle


def wire_with(runtime: ActionsRuntime, dependencies: Dependencies[ActionsSettings]) -> Wiring:
    settings = runtime.settings
    policies = PolicyHandlers(merchants=runtime.merchants)
    executor = Executor(
        merchants=runtime.merchants,
        endpoints=runtime.endpoints,
        pool=dependencies.pool,
        http=runtime.http,
        clock=runtime.clock,
        wall_clock=runtime.wall_clock,
        rng=runtime.rng,
        breakers=BreakerBoard(),
        retry_delays=settings.retry_delays(),
        retry_jitter=settings.retry_jitter,
    )
    tiers = [
        Subscription(
            topic=topic,
            group_id=group,
            handler=executor_handler(executor, group=settings.consumer_group_prefix + group),
            max_records=1,
            due_at=due_time,
        )
        for topic in action_commands.RETRY_TOPICS
        for group in ["actions." + topic.name.split(".")[2]]
    ]
    main_group = settings.consumer_group_prefix + EXECUTOR_GROUP
    return Wiring(
        subscriptions=(
            Subscription(conversations.TOPIC, CONVERSATIONS_GROUP, policies.on_conversation),
            Subscription(anomalies.TOPIC, ANOMALIES_GROUP, policies.on_anomaly),
            Subscription(
                action_commands.TOPIC,
                EXECUTOR_GROUP,
                executor_handler(executor, group=main_group),
                max_records=1,
            ),
            *tiers,
        ),
        clock=runtime.clock,
    )


def due_time(event: Event) -> datetime | None:
    """A retry tier's command is due at its `not_before`; anything else is due now."""
    return event.not_before if isinstance(event, ExecuteAction) else None
