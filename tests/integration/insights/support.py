"""Two test merchants, their known events (from the contracts' examples) and a running
insights service on the real Kafka topics and PostgreSQL."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from relais_contracts import ids
from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics import (
    action_results,
    anomalies,
    conversations,
    notifications,
    orders,
    shipment_state,
)
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_insights.bootstrap import build_spec, wire
from relais_insights.settings import InsightsSettings
from relais_insights.topics import FACT_TOPICS
from relais_runtime.service import RunningService
from tests.conftest import REPO_ROOT, Infrastructure, drop_schemas, free_port

SESSION_SECRET = "test-only-insights-session-secret-0123456789"
SOURCE = Path(REPO_ROOT) / "deploy" / "merchants" / "maison-lumiere.yaml"


@dataclass(frozen=True)
class Tenant:
    merchant_id: str
    key: str


def write_merchants(directory: Path, unique: str) -> tuple[Tenant, Tenant]:
    """Merchant A with the default savings model, B with its own (GBP, 50 % / 50 %)."""
    made = []
    for letter, insights in (
        ("a", None),
        (
            "b",
            {
                "cost_per_contact": {"amount": "2.50", "currency": "GBP"},
                "anomaly_contact_rate": 0.5,
                "wismo_contact_rate": 0.5,
            },
        ),
    ):
        merchant_id = f"ins-{letter}-{unique}"
        key = "rk_test_" + secrets.token_urlsafe(24)
        config: dict[str, Any] = yaml.safe_load(SOURCE.read_text())
        config["merchant_id"] = merchant_id
        config["tracking"] = {
            "api_keys": [{"id": "test", "sha256": hashlib.sha256(key.encode()).hexdigest()}]
        }
        config.pop("insights", None)
        if insights:
            config["insights"] = insights
        (directory / f"{merchant_id}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
        made.append(Tenant(merchant_id, key))
    return made[0], made[1]


def _example(topic: Topic, name: str) -> Any:
    return topic.decode((topic.examples_dir() / name).read_bytes())


def _with(event: Any, merchant_id: str, name: str, occurred_at: datetime, **update: Any) -> Any:
    return event.model_copy(
        update={
            "event_id": ids.derived_id("insights-test", merchant_id, name),
            "merchant_id": merchant_id,
            "occurred_at": occurred_at,
            **update,
        }
    )


def story(
    merchant_id: str, *, now: datetime, told: bool, csat: int, views: int
) -> list[tuple[str, Event]]:
    """One order, one parcel, one anomaly (told 12 minutes later or never), a chat, a
    survey and `views` tracking page views."""
    shipment, order = f"{merchant_id}-s1", f"{merchant_id}-o1"
    keyed = {"shipment_id": shipment, "correlation_id": shipment}
    anomaly_id = ids.anomaly_id(merchant_id, shipment, "failed_attempt")
    conversation_id = ids.derived_id("conversation", merchant_id, shipment)
    placed = now - timedelta(hours=5)
    order_event = _with(
        _example(orders.TOPIC, "OrderPlaced-home-colissimo.json"),
        merchant_id,
        "order",
        placed,
        order_id=order,
        correlation_id=order,
    )
    state = _with(
        _example(shipment_state.TOPIC, "ShipmentStateChanged-colissimo-out-for-delivery.json"),
        merchant_id,
        "state",
        placed,
        placed_at=placed,
        order_id=order,
        **keyed,
    )
    detected = _with(
        _example(anomalies.TOPIC, "AnomalyDetected-failed-attempt-en.json"),
        merchant_id,
        "anomaly",
        now - timedelta(hours=3),
        anomaly_id=anomaly_id,
        **keyed,
    )
    events: list[tuple[Topic, Event]] = [
        (orders.TOPIC, order_event),
        (shipment_state.TOPIC, state),
        (anomalies.TOPIC, detected),
    ]
    if told:
        sent = _example(notifications.TOPIC, "NotificationSent-email-fr.json")
        trigger = sent.trigger.model_copy(
            update={"kind": notifications.TriggerKind.ANOMALY, "ref_id": anomaly_id}
        )
        events.append(
            (
                notifications.TOPIC,
                _with(
                    sent,
                    merchant_id,
                    "sent",
                    detected.occurred_at + timedelta(minutes=12),
                    trigger=trigger,
                    **keyed,
                ),
            )
        )
    started = _example(conversations.TOPIC, "ConversationStarted-email-link-fr.json")
    events.append(
        (
            conversations.TOPIC,
            _with(
                started,
                merchant_id,
                "started",
                now - timedelta(hours=2),
                conversation_id=conversation_id,
                anomaly_id=anomaly_id,
                **keyed,
            ),
        )
    )
    survey = _example(conversations.TOPIC, "SurveyAnswered-fr.json")
    events.append(
        (
            conversations.TOPIC,
            _with(
                survey,
                merchant_id,
                "survey",
                now - timedelta(hours=1),
                csat=csat,
                conversation_id=UUID(int=conversation_id.int + 1),
                **keyed,
            ),
        )
    )
    viewed = _example(conversations.TOPIC, "TrackingPageViewed-sms-link.json")
    events += [
        (
            conversations.TOPIC,
            _with(viewed, merchant_id, f"view-{n}", now - timedelta(minutes=30 + n), **keyed),
        )
        for n in range(views)
    ]
    return [(topic.name, event) for topic, event in events]


def to_test_topics(events: list[tuple[str, Event]], unique: str) -> list[tuple[str, Event]]:
    return [(f"test-{unique}.{name}", event) for name, event in events]


@dataclass
class RunningInsights:
    base_url: str
    settings: InsightsSettings
    schema: str

    async def kinds(self, merchant_id: str) -> list[str]:
        connection = await asyncpg.connect(
            self.settings.database_url, server_settings={"search_path": self.schema}
        )
        try:
            rows = await connection.fetch(
                "SELECT kind FROM facts WHERE merchant_id = $1 ORDER BY kind", merchant_id
            )
            return [row["kind"] for row in rows]
        finally:
            await connection.close()

    async def fact_count(self, merchant_id: str) -> int:
        connection = await asyncpg.connect(
            self.settings.database_url, server_settings={"search_path": self.schema}
        )
        try:
            count = await connection.fetchval(
                "SELECT count(*) FROM facts WHERE merchant_id = $1", merchant_id
            )
            return int(count)
        finally:
            await connection.close()


def test_topic(topic: Topic, unique: str) -> Topic:
    """This test's own copy of a registry topic (same models, partitions and config):
    the services another engineer runs on the shared broker never see our events."""
    return replace(topic, name=f"test-{unique}.{topic.name}")


async def create_topics(infrastructure: Infrastructure, unique: str) -> list[str]:
    names = []
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await admin.start()
    try:
        copies = [test_topic(t, unique) for t in (shipment_state.TOPIC, *FACT_TOPICS)]
        existing = set(await admin.list_topics())
        missing = [t for t in copies if t.name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(t.name, t.partitions, 1, topic_configs=t.kafka_config()) for t in missing]
            )
        names = [t.name for t in copies]
    finally:
        await admin.close()
    return names


async def delete_topics(infrastructure: Infrastructure, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


@asynccontextmanager
async def running_insights(
    infrastructure: Infrastructure, *, unique: str, merchants_dir: Path, generation: str = "1"
) -> AsyncIterator[RunningInsights]:
    """A fresh schema and fresh consumer groups: the service replays the topics from
    their start (what `relais insights rebuild` does for a deployment)."""
    schema = f"test_insights_{unique}_{generation}"
    await create_topics(infrastructure, unique)  # the runtime creates no topic: topics apply does
    settings = InsightsSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        http_port=free_port(),
        consumer_group_prefix=f"test-{unique}-{generation}.",
        consumer_new_groups_start="earliest",
        session_secrets=[SESSION_SECRET],
        merchants_dir=merchants_dir,
        metrics_refresh_s=0.5,
    )
    spec = build_spec()
    service = RunningService(
        replace(
            spec,
            schema=schema,
            wire=lambda deps: wire(deps, topic_map=lambda t: test_topic(t, unique)),
        ),
        settings,
    )
    await service.start()
    try:
        yield RunningInsights(f"http://127.0.0.1:{settings.http_port}", settings, schema)
    finally:
        await service.stop()
        await drop_schemas(infrastructure.database_url, [schema])


def now_utc() -> datetime:
    return datetime.now(UTC)


ANOMALY_EXAMPLES = (
    "AnomalyDetected-failed-attempt-en.json",
    "AnomalyDetected-delivery-late-deadline.json",
    "AnomalyDetected-pickup-ready.json",
    "AnomalyDetected-failed-attempt-en.json",
    "AnomalyDetected-pickup-hold-expiring.json",
)
CARRIERS = ("colissimo", "dhl", "mondial_relay", "colissimo", "ups")
POSTCODES = ("75011", "69003", "13008", "33000", "75015", "59000")
CHOICES = ("ResolutionChosen-redelivery-en.json", "ResolutionChosen-reship-fr.json", None)
COMMENTS = ("Très bon suivi, merci !", None, "Livreur passé trop tôt.", None, "Parfait.")


def busy_parcel(merchant_id: str, index: int, *, now: datetime) -> list[tuple[str, Event]]:
    """A varied parcel for the dashboard: carrier, destination, anomaly type, day, and
    how far the customer went (told, chat, choice, action, resolution, survey)."""
    shipment, order = f"{merchant_id}-b{index}", f"{merchant_id}-bo{index}"
    keyed = {"shipment_id": shipment, "correlation_id": shipment}
    placed = now - timedelta(days=index % 7, hours=6 + index % 5)
    carrier = CARRIERS[index % len(CARRIERS)]
    name = f"b{index}"
    out: list[tuple[Topic, Event]] = [
        (
            orders.TOPIC,
            _with(
                _example(orders.TOPIC, "OrderPlaced-home-colissimo.json"),
                merchant_id,
                f"{name}-order",
                placed,
                order_id=order,
                correlation_id=order,
            ),
        )
    ]
    state = _example(shipment_state.TOPIC, "ShipmentStateChanged-colissimo-out-for-delivery.json")
    address = state.delivery.address.model_copy(
        update={"postal_code": POSTCODES[index % len(POSTCODES)]}
    )
    delivered = index % 3 != 2
    delivered_at = placed + timedelta(hours=30 + 7 * (index % 4))
    out.append(
        (
            shipment_state.TOPIC,
            _with(
                state,
                merchant_id,
                f"{name}-state",
                delivered_at if delivered else placed,
                placed_at=placed,
                order_id=order,
                carrier=carrier,
                delivery=state.delivery.model_copy(update={"address": address}),
                shipped_at=placed + timedelta(hours=3),
                delivered_at=delivered_at if delivered else None,
                promised_delivery_by=(placed + timedelta(days=2 if index % 4 else 1)).date(),
                failed_attempts=1 if index % 5 == 0 else 0,
                **(
                    {
                        "status": TrackingStatus.DELIVERED,
                        "substatus": Substatus.DELIVERED_TO_RECIPIENT,
                        "final": True,
                    }
                    if delivered
                    else {}
                ),
                **keyed,
            ),
        )
    )
    if index % 2 == 0 or index % 7 == 1:
        anomaly_id = ids.derived_id("busy-anomaly", merchant_id, shipment)
        detected = _example(anomalies.TOPIC, ANOMALY_EXAMPLES[index % len(ANOMALY_EXAMPLES)])
        detected_at = placed + timedelta(hours=20)
        out.append(
            (
                anomalies.TOPIC,
                _with(
                    detected,
                    merchant_id,
                    f"{name}-anomaly",
                    detected_at,
                    anomaly_id=anomaly_id,
                    shipment=detected.shipment.model_copy(update={"carrier": carrier}),
                    **keyed,
                ),
            )
        )
        sent = _example(notifications.TOPIC, "NotificationSent-email-fr.json")
        trigger = sent.trigger.model_copy(
            update={"kind": notifications.TriggerKind.ANOMALY, "ref_id": anomaly_id}
        )
        if index % 6 != 4:
            told_at = detected_at + timedelta(minutes=4 + 9 * (index % 4))
            out.append(
                (
                    notifications.TOPIC,
                    _with(sent, merchant_id, f"{name}-sent", told_at, trigger=trigger, **keyed),
                )
            )
            conversation_id = ids.derived_id("busy-conversation", merchant_id, shipment)
            if index % 3 != 1:
                out.append(
                    (
                        conversations.TOPIC,
                        _with(
                            _example(conversations.TOPIC, "ConversationStarted-email-link-fr.json"),
                            merchant_id,
                            f"{name}-started",
                            told_at + timedelta(minutes=25),
                            conversation_id=conversation_id,
                            anomaly_id=anomaly_id,
                            **keyed,
                        ),
                    )
                )
                choice = CHOICES[index % len(CHOICES)]
                if choice:
                    out.append(
                        (
                            conversations.TOPIC,
                            _with(
                                _example(conversations.TOPIC, choice),
                                merchant_id,
                                f"{name}-choice",
                                told_at + timedelta(minutes=29),
                                conversation_id=conversation_id,
                                anomaly_id=anomaly_id,
                                **keyed,
                            ),
                        )
                    )
                    if index % 4 != 0:
                        out.append(
                            (
                                action_results.TOPIC,
                                _with(
                                    _example(action_results.TOPIC, "ActionCompleted-reship.json"),
                                    merchant_id,
                                    f"{name}-done",
                                    told_at + timedelta(hours=2),
                                    action_id=ids.derived_id("busy-action", merchant_id, shipment),
                                    anomaly_id=anomaly_id,
                                    automatic=False,
                                    **keyed,
                                ),
                            )
                        )
                else:
                    ending = (
                        "CallbackRequested-fr.json"
                        if index % 4 == 2
                        else "ConversationAbandoned-idle.json"
                    )
                    out.append(
                        (
                            conversations.TOPIC,
                            _with(
                                _example(conversations.TOPIC, ending),
                                merchant_id,
                                f"{name}-ending",
                                told_at + timedelta(minutes=40),
                                conversation_id=conversation_id,
                                anomaly_id=anomaly_id,
                                **keyed,
                            ),
                        )
                    )
            out.append(
                (
                    anomalies.TOPIC,
                    _with(
                        _example(anomalies.TOPIC, "AnomalyResolved-facts-changed.json"),
                        merchant_id,
                        f"{name}-resolved",
                        detected_at + timedelta(hours=3 + 5 * (index % 3)),
                        anomaly_id=anomaly_id,
                        **keyed,
                    ),
                )
            )
    if delivered:
        out.append(
            (
                conversations.TOPIC,
                _with(
                    _example(conversations.TOPIC, "SurveyAnswered-fr.json"),
                    merchant_id,
                    f"{name}-survey",
                    delivered_at + timedelta(hours=2),
                    csat=(5, 4, 5, 3, 2, 4, 5)[index % 7],
                    comment=COMMENTS[index % len(COMMENTS)],
                    conversation_id=ids.derived_id("busy-survey", merchant_id, shipment),
                    **keyed,
                ),
            )
        )
    viewed = _example(conversations.TOPIC, "TrackingPageViewed-sms-link.json")
    out += [
        (
            conversations.TOPIC,
            _with(
                viewed, merchant_id, f"{name}-view-{n}", placed + timedelta(hours=8 + n), **keyed
            ),
        )
        for n in range(index % 3)
    ]
    return [(topic.name, event) for topic, event in out]
