"""Deciding the actions the conversations and the anomalies ask for.

Rules:
- a decision for a merchant this deployment does not configure is dead-lettered
  (PermanentError); the anomaly events of such a merchant are not this deployment's
  and are ignored;
- a choice whose shipment snapshot has not arrived yet from the anomalies topic is
  tried again a few times (NotYetError), since both topics are read concurrently, then
  dead-lettered as `dependency_missing` (replayable);
- an action is decided once: the first decision is recorded and published, a repeated
  one (redelivery, replay) publishes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relais_actions import repository
from relais_actions.domain import policy
from relais_actions.domain.policy import Decision, Execute, Source
from relais_actions.service.outgoing import Outgoing
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics import action_commands, action_results
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.conversations import CallbackRequested, ResolutionChosen
from relais_runtime.consumer import NotYetError, PermanentError
from relais_runtime.db import DbConnection
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig
from relais_runtime.metrics import ACTIONS_DECIDED

log = get_logger(__name__)

ShipmentSnapshot = AnomalyDetected | AnomalyEscalated | ShipmentMilestoneReached
"""The anomaly events that carry the shipment as it is now."""


@dataclass(frozen=True)
class Decisions:
    merchants: Mapping[str, MerchantConfig]

    def serves(self, merchant_id: str) -> bool:
        return merchant_id in self.merchants

    def merchant(self, merchant_id: str) -> MerchantConfig:
        config = self.merchants.get(merchant_id)
        if config is None:
            raise PermanentError(f"merchant {merchant_id!r} is not configured")
        return config

    async def resolution_chosen(
        self, connection: DbConnection, event: ResolutionChosen
    ) -> list[Outgoing]:
        shipment = await self._snapshot(connection, event)
        source = policy.source_of_resolution(event, shipment=shipment)
        return [] if source is None else await self._decide(connection, source)

    async def callback_requested(
        self, connection: DbConnection, event: CallbackRequested
    ) -> list[Outgoing]:
        shipment = await self._snapshot(connection, event)
        source = policy.source_of_callback(event, shipment=shipment)
        return await self._decide(connection, source)

    async def shipment_seen(self, connection: DbConnection, event: ShipmentSnapshot) -> None:
        await repository.update_shipment(
            connection,
            merchant_id=event.merchant_id,
            shipment_id=event.shipment_id,
            context=event.shipment,
            seen_at=event.occurred_at,
        )

    async def anomaly_detected(
        self, connection: DbConnection, event: AnomalyDetected
    ) -> list[Outgoing]:
        """Keep the anomaly and its snapshot; decide its automatic action, if any."""
        await self.shipment_seen(connection, event)
        await repository.get_or_create_anomaly(
            connection,
            merchant_id=event.merchant_id,
            anomaly_id=event.anomaly_id,
            shipment_id=event.shipment_id,
            anomaly_type=event.anomaly_type,
            context=event.shipment,
            detected_at=event.occurred_at,
        )
        source = policy.source_of_anomaly(event, config=self.merchant(event.merchant_id).actions)
        return [] if source is None else await self._decide(connection, source)

    async def anomaly_resolved(self, connection: DbConnection, event: AnomalyResolved) -> None:
        """A resolution expires the anomaly's actions still pending (see policy)."""
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

    async def _decide(self, connection: DbConnection, source: Source) -> list[Outgoing]:
        resolution = None
        if source.anomaly_id is not None:
            row = await repository.get_anomaly(
                connection, merchant_id=source.merchant_id, anomaly_id=source.anomaly_id
            )
            resolution = row.resolution_reason if row is not None else None
        decision = policy.decide(
            source, config=self.merchant(source.merchant_id).actions, anomaly_resolution=resolution
        )
        return await record_decision(connection, decision)


async def record_decision(connection: DbConnection, decision: Decision) -> list[Outgoing]:
    """Record the decision once; its command or its refusal is published only then."""
    if isinstance(decision, Execute):
        if not await repository.create_action(connection, command=decision.command):
            return []
        outcome, action = "execute", decision.command.action_type
        log.info("action decided", action_id=str(decision.command.action_id), decision=outcome)
        ACTIONS_DECIDED.labels(action=action.value, decision=outcome).inc()
        return [Outgoing(action_commands.TOPIC, decision.command)]
    if not await repository.create_action(connection, refused=decision.result):
        return []
    outcome = decision.result.reason.value
    log.info("action refused", action_id=str(decision.result.action_id), reason=outcome)
    ACTIONS_DECIDED.labels(action=decision.result.action.value, decision=outcome).inc()
    return [Outgoing(action_results.TOPIC, decision.result)]
