"""The detector's consumers (thin: decode, call the domain, persist and enqueue).

- relais.shipment-state.v1: every new state of a shipment is evaluated; a record
  whose version is not above the stored one is a replay and changes nothing;
- relais.action-results.v1: a completed action resolves its anomaly, a failed one
  handed to a human escalates it;
- the sweeper (sweeper.py) fires the durable timers with the same `apply_decision`.

Everything a decision changes (facts, anomalies, timers, outbox rows) commits in
the consumer's transaction, under the shipment's row lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.registry import Topic
from relais_contracts.topics import action_results, anomalies, shipment_state
from relais_contracts.topics.action_results import ActionCompleted, ActionFailed
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_detector import domain, repository
from relais_detector.domain import Decision, Memory, ShipmentFacts
from relais_detector.repository import Lock
from relais_detector.settings import DetectorSettings
from relais_runtime.clock import Clock
from relais_runtime.consumer import MessageContext, PermanentError, Subscription
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger
from relais_runtime.merchants import load_merchants
from relais_runtime.merchants.detection import DetectionPolicy
from relais_runtime.metrics import ANOMALY_DECISIONS
from relais_runtime.outbox import enqueue
from relais_runtime.service import Dependencies, Wiring
from relais_runtime.supervisor import Loop

log = get_logger(__name__)

DEFAULT_POLICY = DetectionPolicy()

PolicyBook = Callable[[str], DetectionPolicy]
"""The detection policy of a merchant (the defaults for a merchant without a file)."""


def policy_book(merchants_dir: Path | None) -> PolicyBook:
    """Read every merchant file once, at start (MerchantConfigError stops start-up)."""
    policies: Mapping[str, DetectionPolicy] = (
        {mid: config.detection for mid, config in load_merchants(merchants_dir).items()}
        if merchants_dir is not None
        else {}
    )
    return lambda merchant_id: policies.get(merchant_id, DEFAULT_POLICY)


@dataclass(frozen=True)
class DetectorTopics:
    """The topics the detector reads and writes (tests give throw-away copies)."""

    shipment_state: Topic = shipment_state.TOPIC
    action_results: Topic = action_results.TOPIC
    anomalies: Topic = anomalies.TOPIC


@dataclass(frozen=True)
class Detector:
    clock: Clock
    policies: PolicyBook
    topics: DetectorTopics = field(default_factory=DetectorTopics)

    async def on_shipment_erased(self, key: bytes, context: MessageContext) -> None:
        """A tombstone erases the shipment, its anomalies and its timers (cascade)."""
        merchant_id, shipment_id = split_partition_key(key)
        await repository.delete_shipment(
            context.connection, merchant_id=merchant_id, shipment_id=shipment_id
        )

    async def on_shipment_state(self, event: Event, context: MessageContext) -> None:
        if not isinstance(event, ShipmentStateChanged):
            raise PermanentError(f"unexpected {event.event_type} on the shipment-state topic")
        facts = ShipmentFacts.of(event)
        connection = context.connection
        stored = await _lock_or_create(connection, facts)
        if stored is not None and stored.facts.version >= facts.version:
            log.info("stale shipment state ignored", version=facts.version)
            return
        milestones = stored.milestones if stored else frozenset()
        memory = await repository.get_memory(
            connection,
            merchant_id=facts.merchant_id,
            shipment_id=facts.shipment_id,
            milestones=milestones,
        )
        decision = domain.evaluate(
            facts=facts,
            memory=memory,
            policy=self.policies(facts.merchant_id),
            now=self.clock.now(),
            cause_event_id=event.event_id,
        )
        await apply_decision(
            connection, facts=facts, decision=decision, topic=self.topics.anomalies
        )

    async def on_action_result(self, event: Event, context: MessageContext) -> None:
        if not isinstance(event, ActionCompleted | ActionFailed):
            raise PermanentError(f"unexpected {event.event_type} on the action-results topic")
        if event.anomaly_id is None:
            return
        connection = context.connection
        stored = await repository.get_shipment(
            connection, merchant_id=event.merchant_id, shipment_id=event.shipment_id, lock=Lock.WAIT
        )
        if stored is None:
            log.warning("action result for a shipment the detector does not know")
            return
        memory = await _memory(connection, stored)
        decision = domain.on_action_result(
            result=event,
            facts=stored.facts,
            memory=memory,
            policy=self.policies(event.merchant_id),
            now=self.clock.now(),
        )
        await apply_decision(
            connection, facts=stored.facts, decision=decision, topic=self.topics.anomalies
        )

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                self.topics.shipment_state,
                "detector.shipment-state",
                self.on_shipment_state,
                on_tombstone=self.on_shipment_erased,
            ),
            Subscription(
                self.topics.action_results, "detector.action-results", self.on_action_result
            ),
        ]


async def _lock_or_create(
    connection: DbConnection, facts: ShipmentFacts
) -> repository.StoredShipment | None:
    """The stored shipment, locked; None if this transaction just created it."""
    key = {"merchant_id": facts.merchant_id, "shipment_id": facts.shipment_id}
    stored = await repository.get_shipment(connection, **key, lock=Lock.WAIT)
    if stored is not None or await repository.create_shipment(connection, facts=facts):
        return stored
    return await repository.get_shipment(connection, **key, lock=Lock.WAIT)


async def _memory(connection: DbConnection, stored: repository.StoredShipment) -> Memory:
    return await repository.get_memory(
        connection,
        merchant_id=stored.facts.merchant_id,
        shipment_id=stored.facts.shipment_id,
        milestones=stored.milestones,
    )


async def apply_decision(
    connection: DbConnection, *, facts: ShipmentFacts, decision: Decision, topic: Topic
) -> None:
    """Persist a decision: facts, milestones, anomaly records, the timer set, and its
    events in the outbox; the caller's transaction holds the shipment's lock."""
    key = {"merchant_id": facts.merchant_id, "shipment_id": facts.shipment_id}
    await repository.update_shipment(connection, facts=facts, milestones=decision.milestones)
    if decision.records:
        await repository.update_anomalies(connection, **key, records=decision.records)
    await repository.update_timers(connection, **key, timers=decision.timers)
    if decision.events:
        await enqueue(connection, topic=topic, events=decision.events)
    for event in decision.events:
        kind = getattr(event, "anomaly_type", None) or getattr(event, "milestone", "")
        ANOMALY_DECISIONS.labels(kind=str(kind), decision=event.event_type).inc()


def wire(
    dependencies: Dependencies[DetectorSettings],
    *,
    clock: Clock | None = None,
    topics: DetectorTopics | None = None,
) -> Wiring:
    """Production wiring from the settings; tests hand in a ManualClock and their topics."""
    from relais_detector.sweeper import Sweeper

    settings = dependencies.settings
    if not isinstance(settings, DetectorSettings):
        raise TypeError("the detector needs DetectorSettings")
    detector = Detector(
        clock=clock or settings.build_clock(),
        policies=policy_book(settings.merchants_dir),
        topics=topics or DetectorTopics(),
    )
    sweeper = Sweeper(
        pool=dependencies.pool,
        detector=detector,
        batch_size=settings.sweep_batch_size,
        retry_s=settings.sweep_retry_s,
    )
    return Wiring(
        subscriptions=detector.subscriptions(),
        background=[
            Loop(
                "detector-sweeper",
                sweeper.runner(interval_s=settings.sweep_interval_s),
                heartbeat_s=max(120.0, 4 * settings.sweep_interval_s),
            )
        ],
    )
