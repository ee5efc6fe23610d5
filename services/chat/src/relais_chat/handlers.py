"""The chat's consumers and HTTP routes (thin: decode, call the domain, publish).

Consumers keep the chat's read model: the latest shipment state (compacted topic,
newest version wins), the carrier timeline, and the anomalies with their
resolution. A resolved anomaly ends its open conversation (ConversationAbandoned).
Milestones and escalations need nothing from the chat: surveys open from the
shipment state, and an escalated anomaly keeps its conversation.
"""

from __future__ import annotations

from relais_chat import repository
from relais_chat.configuration import ChatConfiguration, load_configuration
from relais_chat.conversations import abandon_for_resolution
from relais_chat.pages import build_router
from relais_chat.settings import ChatSettings
from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.topics import anomalies, shipment_state, tracking_events
from relais_runtime.clock import Clock
from relais_runtime.consumer import Handler, MessageContext, Subscription
from relais_runtime.service import Dependencies, Wiring


async def on_shipment_state(event: Event, context: MessageContext) -> None:
    if isinstance(event, shipment_state.ShipmentStateChanged):
        await repository.update_shipment(context.connection, state=event)


async def on_shipment_erased(key: bytes, context: MessageContext) -> None:
    """A tombstone on the shipment state erases the chat's copy of that shipment."""
    merchant_id, shipment_id = split_partition_key(key)
    await repository.delete_shipment(
        context.connection, merchant_id=merchant_id, shipment_id=shipment_id
    )


async def on_tracking_event(event: Event, context: MessageContext) -> None:
    if isinstance(event, tracking_events.TrackingEventRecorded):
        await repository.create_tracking_event(context.connection, event=event)


def anomaly_handler(clock: Clock) -> Handler:
    async def on_anomaly(event: Event, context: MessageContext) -> None:
        if isinstance(event, anomalies.AnomalyDetected):
            await repository.create_anomaly(context.connection, detected=event)
        elif isinstance(event, anomalies.AnomalyResolved):
            await repository.update_anomaly(
                context.connection,
                merchant_id=event.merchant_id,
                anomaly_id=event.anomaly_id,
                resolved_at=event.occurred_at,
            )
            await abandon_for_resolution(
                context.connection,
                merchant_id=event.merchant_id,
                anomaly_id=event.anomaly_id,
                now=clock.now(),
            )

    return on_anomaly


def wire(dependencies: Dependencies[ChatSettings]) -> Wiring:
    settings = dependencies.settings
    configuration: ChatConfiguration = load_configuration(settings)
    return Wiring(
        subscriptions=(
            Subscription(
                shipment_state.TOPIC,
                "chat.shipment-state",
                on_shipment_state,
                on_tombstone=on_shipment_erased,
            ),
            Subscription(tracking_events.TOPIC, "chat.tracking-events", on_tracking_event),
            Subscription(anomalies.TOPIC, "chat.anomalies", anomaly_handler(configuration.clock)),
        ),
        routers=(build_router(pool=dependencies.pool, configuration=configuration),),
    )
