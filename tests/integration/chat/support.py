"""Building one shipment's story (state, carrier event, anomaly) and running the chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from relais_chat.bootstrap import build_spec
from relais_chat.domain.access import make_signer
from relais_chat.settings import ChatSettings
from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType, Milestone, Severity
from relais_contracts.envelope import Event
from relais_contracts.topics import anomalies, conversations, shipment_state, tracking_events
from relais_contracts.topics.anomalies import AnomalyDetected, Evidence
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_runtime.kafka import publish_events
from relais_runtime.links import LinkPurpose
from relais_runtime.service import RunningService
from tests.conftest import REPO_ROOT, Infrastructure, drop_schemas, free_port
from tests.integration.conftest import eventually, read_topic

LINK_SECRET = "test-only-chat-link-secret-0123456789"
MERCHANTS_DIR = f"{REPO_ROOT}/deploy/merchants"
EXAMPLES = shipment_state.TOPIC.examples_dir()


E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Story:
    state: ShipmentStateChanged
    events: tuple[TrackingEventRecorded, ...]
    anomaly: AnomalyDetected | None

    @property
    def merchant_id(self) -> str:
        return self.state.merchant_id

    def all(self) -> list[tuple[str, Event]]:
        published: list[tuple[str, Event]] = [(shipment_state.TOPIC.name, self.state)]
        published += [(tracking_events.TOPIC.name, event) for event in self.events]
        if self.anomaly is not None:
            published.append((anomalies.TOPIC.name, self.anomaly))
        return published


def _example(name: str, topic: Any) -> Any:
    return topic.decode((topic.examples_dir() / name).read_bytes())


def story(
    *,
    merchant_id: str,
    shipment_id: str,
    anomaly_type: AnomalyType | None = AnomalyType.FAILED_ATTEMPT,
    pickup: bool = False,
    delivered: bool = False,
    locale: str | None = None,
    now: datetime | None = None,
) -> Story:
    now = now or datetime.now(UTC)
    base_name = (
        "ShipmentStateChanged-mondial-relay-ready-for-pickup.json"
        if pickup
        else "ShipmentStateChanged-colissimo-out-for-delivery.json"
    )
    base: ShipmentStateChanged = _example(base_name, shipment_state.TOPIC)
    status, substatus = (
        (TrackingStatus.DELIVERED, Substatus.DELIVERED_TO_RECIPIENT)
        if delivered
        else (base.status, base.substatus)
    )
    state = base.model_copy(
        update={
            "event_id": ids.derived_id("test-state", merchant_id, shipment_id),
            "merchant_id": merchant_id,
            "shipment_id": shipment_id,
            "correlation_id": shipment_id,
            "occurred_at": now - timedelta(hours=1),
            "produced_at": now,
            "status": status,
            "substatus": substatus,
            "final": delivered,
            "delivered_at": now - timedelta(hours=1) if delivered else None,
            "pickup_hold_deadline": now + timedelta(days=5) if pickup else None,
            "promised_delivery_by": date.today() + timedelta(days=1),
            "estimated_delivery": None,
            "customer": base.customer.model_copy(update={"locale": locale or base.customer.locale}),
        }
    )
    event_example: TrackingEventRecorded = _example(
        "TrackingEventRecorded-colissimo-out-for-delivery.json", tracking_events.TOPIC
    )
    event = event_example.model_copy(
        update={
            "event_id": ids.derived_id("test-event", merchant_id, shipment_id),
            "merchant_id": merchant_id,
            "shipment_id": shipment_id,
            "correlation_id": shipment_id,
            "order_id": state.order_id,
            "occurred_at": now - timedelta(hours=2),
            "description": f"Votre colis est en cours de livraison ({shipment_id}).",
        }
    )
    anomaly = None
    if anomaly_type is not None:
        anomaly_id = ids.anomaly_id(merchant_id, shipment_id, anomaly_type.value)
        anomaly = AnomalyDetected(
            event_id=anomaly_id,
            occurred_at=now - timedelta(minutes=30),
            merchant_id=merchant_id,
            correlation_id=shipment_id,
            shipment_id=shipment_id,
            anomaly_id=anomaly_id,
            anomaly_type=anomaly_type,
            severity=Severity.WARNING,
            evidence=Evidence(
                tracking_event_ids=(event.event_id,), status=state.status, substatus=state.substatus
            ),
            shipment=state.context(),
        )
    return Story(state=state, events=(event,), anomaly=anomaly)


def bookable_day() -> date:
    """A day the chat accepts for a delivery or a call: two days ahead, never a Sunday."""
    day = datetime.now(UTC).date() + timedelta(days=2)
    return day + timedelta(days=1) if day.isoweekday() == 7 else day


def survey_subject(story: Story) -> UUID:
    return ids.milestone_id(story.merchant_id, story.state.shipment_id, Milestone.DELIVERED.value)


def link(
    *,
    merchant_id: str,
    purpose: LinkPurpose,
    subject: str,
    issued_at: datetime | None = None,
) -> str:
    token = make_signer([LINK_SECRET]).sign(
        merchant_id=merchant_id,
        purpose=purpose,
        subject=subject,
        issued_at=issued_at or datetime.now(UTC),
    )
    prefix = {LinkPurpose.CHAT: "c", LinkPurpose.TRACKING: "t", LinkPurpose.SURVEY: "s"}[purpose]
    return f"/{prefix}/{token}"


async def publish(producer: AIOKafkaProducer, stories: Sequence[Story]) -> None:
    for one in stories:
        for topic, event in one.all():
            await publish_events(producer, topic=topic, events=[event])


@dataclass
class RunningChat:
    base_url: str
    settings: ChatSettings
    schema: str

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self.settings.database_url, server_settings={"search_path": self.schema}
        )

    async def learn(self, producer: AIOKafkaProducer, stories: Sequence[Story]) -> None:
        """Publish the stories and wait until the chat has consumed all of them."""
        await publish(producer, stories)
        connection = await self.connect()
        try:
            for one in stories:

                async def known(one: Story = one) -> bool:
                    key = (one.merchant_id, one.state.shipment_id)
                    counts = await connection.fetchrow(
                        "SELECT (SELECT count(*) FROM shipments"
                        "        WHERE merchant_id = $1 AND shipment_id = $2) AS states,"
                        " (SELECT count(*) FROM tracking_events"
                        "        WHERE merchant_id = $1 AND shipment_id = $2) AS events,"
                        " (SELECT count(*) FROM anomalies"
                        "        WHERE merchant_id = $1 AND shipment_id = $2) AS anomalies",
                        *key,
                    )
                    return counts is not None and bool(
                        counts["states"] == 1
                        and counts["events"] == len(one.events)
                        and counts["anomalies"] == (1 if one.anomaly else 0)
                    )

                assert await eventually(known, timeout_s=45), f"the chat never learned {one}"
        finally:
            await connection.close()

    async def wait_until_known(self, client: httpx.AsyncClient, path: str) -> httpx.Response:
        async def ready() -> httpx.Response | None:
            response = await client.get(path)
            return response if response.status_code != 404 else None

        response = await eventually(ready, timeout_s=45)
        assert isinstance(response, httpx.Response), f"the chat never learned about {path}"
        return response


@asynccontextmanager
async def running_chat(
    infrastructure: Infrastructure, *, unique: str
) -> AsyncIterator[RunningChat]:
    schema = f"test_chat_{unique}"
    settings = ChatSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        http_port=free_port(),
        consumer_group_prefix=f"test-{unique}.",
        customer_link_secrets=[LINK_SECRET],
        merchants_dir=MERCHANTS_DIR,
        outbox_poll_interval_s=0.1,
    )
    service = RunningService(replace(build_spec(), schema=schema), settings)
    await service.start()
    try:
        yield RunningChat(f"http://127.0.0.1:{settings.http_port}", settings, schema)
    finally:
        await service.stop()
        await drop_schemas(infrastructure.database_url, [schema])


async def conversation_events(
    infrastructure: Infrastructure, *, key: bytes, until: Any, timeout_s: float = 30
) -> list[Event]:
    """Our shipment's events on relais.conversations.v1, once `until(events)` holds."""

    def mine(records: Sequence[Any]) -> list[Event]:
        return [conversations.TOPIC.decode(record.value) for record in records if record.key == key]

    records = await read_topic(
        infrastructure.kafka_bootstrap,
        conversations.TOPIC.name,
        until=lambda records: bool(until(mine(records))),
        timeout_s=timeout_s,
    )
    return mine(records)


async def conversation_events_of(
    infrastructure: Infrastructure, *, merchant_id: str, shipment_id: str, kind: type[E]
) -> list[E]:
    """This shipment's `kind` events on relais.conversations.v1, once there is one."""
    published = await conversation_events(
        infrastructure,
        key=f"{merchant_id}/{shipment_id}".encode(),
        until=lambda events: any(isinstance(event, kind) for event in events),
    )
    return [event for event in published if isinstance(event, kind)]


async def settle() -> None:
    await asyncio.sleep(0.5)
