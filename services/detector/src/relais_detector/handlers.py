"""The detector's consumers: decode the record, hand it to the application (service),
which stores the decision and its events in the consumer's transaction.

- relais.shipment-state.v1: every new state of a shipment is evaluated; a tombstone
  erases the shipment, its anomalies and timers, and its events still in the outbox;
- relais.action-results.v1: a completed action resolves its anomaly, a failed one
  handed to a human escalates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.topics.action_results import ActionCompleted, ActionFailed
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_detector.service import Detection, erase_shipment
from relais_runtime.consumer import MessageContext, Subscription
from relais_runtime.failures import unexpected_event
from relais_runtime.outbox import forget_key


@dataclass(frozen=True)
class Detector(Detection):
    """The Detection application, read from its two input topics."""

    async def on_shipment_erased(self, key: bytes, context: MessageContext) -> None:
        merchant_id, shipment_id = split_partition_key(key)
        await erase_shipment(context.connection, merchant_id=merchant_id, shipment_id=shipment_id)
        await forget_key(context.connection, key=key)

    async def on_shipment_state(self, event: Event, context: MessageContext) -> None:
        match event:
            case ShipmentStateChanged():
                await self.record_state(context.connection, event)
            case _:
                unexpected_event(event, where=context.topic)

    async def on_action_result(self, event: Event, context: MessageContext) -> None:
        match event:
            case ActionCompleted() | ActionFailed():
                await self.record_action_result(context.connection, event)
            case _:
                unexpected_event(event, where=context.topic)

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
