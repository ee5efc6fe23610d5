"""The detector's application steps: each input (a shipment state, an action result, a
due timer) is evaluated at the clock's `now` under the shipment's row lock, and its
decision stored in the caller's transaction (decisions.apply_decision).

- a shipment state whose version is not above the stored one is a replay and changes
  nothing;
- an action result for a shipment the detector does not know changes nothing;
- a due timer's shipment that another transaction holds is left for the next sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from relais_contracts.registry import Topic
from relais_contracts.topics import action_results, anomalies, shipment_state
from relais_contracts.topics.action_results import ActionCompleted, ActionFailed
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_detector import domain, repository
from relais_detector.domain import Memory, PolicyBook, ShipmentFacts
from relais_detector.repository import Lock, StoredShipment
from relais_detector.service.decisions import apply_decision
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class DetectorTopics:
    """The topics the detector reads and writes (tests give throw-away copies)."""

    shipment_state: Topic = shipment_state.TOPIC
    action_results: Topic = action_results.TOPIC
    anomalies: Topic = anomalies.TOPIC


@dataclass(frozen=True)
class Detection:
    """Evaluates one input on the facts and memory stored for its shipment and stores
    the decision; decisions go to `topics.anomalies`."""

    clock: Clock
    policies: PolicyBook
    topics: DetectorTopics = field(default_factory=DetectorTopics)

    async def record_state(self, connection: DbConnection, state: ShipmentStateChanged) -> None:
        facts = ShipmentFacts.of(state)
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
            policy=self.policies.for_merchant(facts.merchant_id),
            now=self.clock.now(),
            cause_event_id=state.event_id,
        )
        await self._store(connection, facts, decision)

    async def record_action_result(
        self, connection: DbConnection, result: ActionCompleted | ActionFailed
    ) -> None:
        """A result that names no anomaly changes nothing here."""
        if result.anomaly_id is None:
            return
        stored = await repository.get_shipment(
            connection,
            merchant_id=result.merchant_id,
            shipment_id=result.shipment_id,
            lock=Lock.WAIT,
        )
        if stored is None:
            log.warning("action result for a shipment the detector does not know")
            return
        decision = domain.on_action_result(
            result=result,
            facts=stored.facts,
            memory=await _memory(connection, stored),
            policy=self.policies.for_merchant(result.merchant_id),
            now=self.clock.now(),
        )
        await self._store(connection, stored.facts, decision)

    async def reevaluate(
        self, connection: DbConnection, *, merchant_id: str, shipment_id: str, now: datetime
    ) -> bool:
        """Evaluate the stored facts at `now` (a timer fired); False, and nothing done,
        when another transaction holds the shipment."""
        stored = await repository.get_shipment(
            connection, merchant_id=merchant_id, shipment_id=shipment_id, lock=Lock.SKIP
        )
        if stored is None:
            return False
        decision = domain.evaluate(
            facts=stored.facts,
            memory=await _memory(connection, stored),
            policy=self.policies.for_merchant(merchant_id),
            now=now,
        )
        await self._store(connection, stored.facts, decision)
        return True

    async def _store(
        self, connection: DbConnection, facts: ShipmentFacts, decision: domain.Decision
    ) -> None:
        await apply_decision(
            connection, facts=facts, decision=decision, topic=self.topics.anomalies
        )


async def erase_shipment(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    """An erased shipment takes its anomalies and its timers with it (cascade)."""
    await repository.delete_shipment(connection, merchant_id=merchant_id, shipment_id=shipment_id)


async def _lock_or_create(connection: DbConnection, facts: ShipmentFacts) -> StoredShipment | None:
    """The stored shipment, locked; None if this transaction just created it."""
    key = {"merchant_id": facts.merchant_id, "shipment_id": facts.shipment_id}
    stored = await repository.get_shipment(connection, **key, lock=Lock.WAIT)
    if stored is not None or await repository.create_shipment(connection, facts=facts):
        return stored
    return await repository.get_shipment(connection, **key, lock=Lock.WAIT)


async def _memory(connection: DbConnection, stored: StoredShipment) -> Memory:
    return await repository.get_memory(
        connection,
        merchant_id=stored.facts.merchant_id,
        shipment_id=stored.facts.shipment_id,
        milestones=stored.milestones,
    )
