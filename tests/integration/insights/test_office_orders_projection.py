"""The back office's orders read model fed by the real insights consumers on real Kafka and
PostgreSQL: events of several topics, in an order where the shipment state arrives last,
give the expected row and one timeline in event-time order; redelivered events add
nothing; the shipment state's tombstone erases the row and its timeline; the API with a
`backoffice` key reads them back."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from relais_contracts import ids
from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics import (
    anomalies,
    conversations,
    notifications,
    shipment_state,
    tracking_events,
)
from relais_runtime.kafka import publish_events
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually
from tests.integration.insights.support import (
    RunningInsights,
    Tenant,
    _example,
    _with,
    now_utc,
    running_insights,
    to_test_topics,
    write_merchants,
)

pytestmark = pytest.mark.integration


def with_backoffice_key(directory: Path, tenant: Tenant) -> Tenant:
    key = "rk_office_" + secrets.token_urlsafe(24)
    path = directory / f"{tenant.merchant_id}.yaml"
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    config["tracking"]["api_keys"].append(
        {
            "id": "office",
            "sha256": hashlib.sha256(key.encode()).hexdigest(),
            "scopes": ["backoffice"],
        }
    )
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return Tenant(tenant.merchant_id, key)


ORDER_PLACED = shipment_state.StateChangeCause.ORDER_PLACED


@pytest.fixture(scope="module", name="unique")
def module_unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory, unique: str) -> tuple[Path, Tenant]:
    directory = tmp_path_factory.mktemp("merchants")
    a, _ = write_merchants(directory, unique)
    return directory, with_backoffice_key(directory, a)


@pytest.fixture(scope="module")
async def insights(
    infrastructure: Infrastructure, tenant: tuple[Path, Tenant], unique: str
) -> AsyncIterator[RunningInsights]:
    async with running_insights(infrastructure, unique=unique, merchants_dir=tenant[0]) as running:
        yield running


@dataclass(frozen=True)
class Parcel:
    merchant_id: str
    shipment: str
    start: datetime

    def event(
        self, topic: Topic, example: Any, name: str, after: timedelta, **update: Any
    ) -> tuple[Topic, Any]:
        """`example` (an event, or the name of one of the topic's examples) as this parcel's
        event `name`, `after` its start."""
        event = _example(topic, example) if isinstance(example, str) else example
        keyed = {"shipment_id": self.shipment, "correlation_id": self.shipment}
        at = self.start + after
        return topic, _with(
            event, self.merchant_id, f"{self.shipment}-{name}", at, **keyed, **update
        )


def parcel_story(merchant_id: str, shipment: str, number: str, *, resolved: bool) -> list[Any]:
    """(topic, event) of one parcel: anomaly events first, the shipment states last."""
    parcel = Parcel(merchant_id, shipment, now_utc().replace(microsecond=0) - timedelta(days=1))
    anomaly_id = ids.anomaly_id(merchant_id, shipment, "failed_attempt")
    state = _example(shipment_state.TOPIC, "ShipmentStateChanged-colissimo-out-for-delivery.json")
    customer = state.customer.model_copy(update={"email": "Camille.Durand@Example.FR"})
    order = {
        "order_number": number,
        "order_id": f"o-{shipment}",
        "customer": customer,
        "placed_at": parcel.start,
    }
    sent = _example(notifications.TOPIC, "NotificationSent-email-fr.json")
    trigger = sent.trigger.model_copy(
        update={"kind": notifications.TriggerKind.ANOMALY, "ref_id": anomaly_id}
    )
    scan = "TrackingEventRecorded-colissimo-out-for-delivery.json"
    events = [
        parcel.event(
            anomalies.TOPIC,
            "AnomalyDetected-failed-attempt-en.json",
            "raised",
            timedelta(hours=2),
            anomaly_id=anomaly_id,
        ),
        parcel.event(tracking_events.TOPIC, scan, "scan", timedelta(hours=1)),
    ]
    if resolved:
        chat = "ConversationStarted-email-link-fr.json"
        events += [
            parcel.event(
                notifications.TOPIC, sent, "sent", timedelta(hours=2, minutes=12), trigger=trigger
            ),
            parcel.event(
                conversations.TOPIC, chat, "chat", timedelta(hours=3), anomaly_id=anomaly_id
            ),
            parcel.event(
                anomalies.TOPIC,
                "AnomalyResolved-facts-changed.json",
                "resolved",
                timedelta(hours=4),
                anomaly_id=anomaly_id,
            ),
        ]
    events += [
        parcel.event(
            shipment_state.TOPIC,
            state,
            "placed",
            timedelta(0),
            version=1,
            cause=ORDER_PLACED,
            **order,
        ),
        parcel.event(shipment_state.TOPIC, state, "latest", timedelta(hours=1), version=5, **order),
    ]
    return [(topic.name, event) for topic, event in events]


EXPECTED_KINDS = [
    "order_placed",
    "carrier_scan",
    "anomaly_raised",
    "message",
    "chat_started",
    "anomaly_resolved",
]


async def publish(infrastructure: Infrastructure, events: list[tuple[str, Event]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for topic, event in events:
            await publish_events(producer, topic=topic, events=[event])
    finally:
        await producer.stop()


async def fetch(insights: RunningInsights, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(
        insights.settings.database_url, server_settings={"search_path": insights.schema}
    )
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def timeline_kinds(insights: RunningInsights, merchant_id: str, shipment: str) -> list[str]:
    rows = await fetch(
        insights,
        "SELECT kind FROM office_timeline WHERE merchant_id = $1 AND shipment_id = $2"
        " ORDER BY at, event_id",
        merchant_id,
        shipment,
    )
    return [row["kind"] for row in rows]


async def test_events_of_every_topic_make_one_row_and_one_ordered_timeline(
    infrastructure: Infrastructure,
    insights: RunningInsights,
    tenant: tuple[Path, Tenant],
    unique: str,
) -> None:
    merchant_id = tenant[1].merchant_id
    told = parcel_story(merchant_id, f"S1-{unique}", f"#T{unique}", resolved=True)
    open_one = parcel_story(merchant_id, f"S2-{unique}", f"#U{unique}", resolved=False)
    await publish(infrastructure, to_test_topics(told + open_one, unique))

    async def projected() -> bool:
        kinds = await timeline_kinds(insights, merchant_id, f"S1-{unique}")
        rows = await fetch(
            insights, "SELECT told FROM office_shipments WHERE merchant_id = $1", merchant_id
        )
        return kinds == EXPECTED_KINDS and len(rows) == 2

    assert await eventually(projected, timeout_s=60), await timeline_kinds(
        insights, merchant_id, f"S1-{unique}"
    )
    rows = {
        row["shipment_id"]: row
        for row in await fetch(
            insights, "SELECT * FROM office_shipments WHERE merchant_id = $1", merchant_id
        )
    }
    done, pending = rows[f"S1-{unique}"], rows[f"S2-{unique}"]
    assert done["customer_email"] == "camille.durand@example.fr"
    assert done["order_number"] == f"#T{unique}"
    assert done["tracking_number"] == "6A23456789012"
    assert (done["version"], done["carrier"], done["region"]) == (5, "colissimo", "FR-69")
    assert (done["told"], list(done["open_anomalies"]), done["resolved"]) == (True, [], True)
    assert done["anomalies_raised"] == 1
    assert done["last_event_at"] == done["ordered_at"] + timedelta(hours=4)
    assert (pending["told"], list(pending["open_anomalies"])) == (False, ["failed_attempt"])
    assert pending["resolved"] is False

    # Redelivered: nothing more (a fresh event afterwards shows the consumers went past them).
    viewed = _with(
        _example(conversations.TOPIC, "TrackingPageViewed-sms-link.json"),
        merchant_id,
        f"{unique}-viewed",
        done["ordered_at"] + timedelta(hours=6),
        shipment_id=f"S1-{unique}",
        correlation_id=f"S1-{unique}",
    )
    await publish(
        infrastructure,
        to_test_topics([*told, (conversations.TOPIC.name, viewed)], unique),
    )

    async def viewed_arrived() -> bool:
        kinds = await timeline_kinds(insights, merchant_id, f"S1-{unique}")
        return kinds[-1:] == ["tracking_page_viewed"]

    assert await eventually(viewed_arrived, timeout_s=45)
    await _states_consumed(insights, merchant_id, unique)
    assert await timeline_kinds(insights, merchant_id, f"S1-{unique}") == [
        *EXPECTED_KINDS,
        "tracking_page_viewed",
    ]


async def _states_consumed(insights: RunningInsights, merchant_id: str, unique: str) -> None:
    async def settled() -> bool:
        rows = await fetch(
            insights,
            "SELECT last_event_at - ordered_at AS span FROM office_shipments"
            " WHERE merchant_id = $1 AND shipment_id = $2",
            merchant_id,
            f"S1-{unique}",
        )
        return bool(rows) and rows[0]["span"] == timedelta(hours=6)

    assert await eventually(settled, timeout_s=30)


async def test_the_api_gives_the_order_with_its_timeline_and_filters(
    insights: RunningInsights, tenant: tuple[Path, Tenant], unique: str
) -> None:
    merchant = tenant[1]
    headers = {"Authorization": f"Bearer {merchant.key}"}
    async with httpx.AsyncClient(base_url=insights.base_url, headers=headers) as client:
        order = await client.get(
            f"/v1/office/{merchant.merchant_id}/orders/{quote(f'#T{unique}', safe='')}"
        )
        assert order.status_code == 200, order.text
        body = order.json()
        assert [s["shipment_id"] for s in body["shipments"]] == [f"S1-{unique}"]
        assert [e["kind"] for e in body["timeline"]][:6] == EXPECTED_KINDS
        assert "camille" not in str([e["detail"] for e in body["timeline"]])
        listed = await client.get(
            f"/v1/office/{merchant.merchant_id}/shipments",
            params={"anomaly": "failed_attempt", "carrier": "colissimo", "told": "false"},
        )
        assert listed.status_code == 200, listed.text
        assert [s["shipment_id"] for s in listed.json()["shipments"]] == [f"S2-{unique}"]
        found = await client.get(
            f"/v1/office/{merchant.merchant_id}/shipments",
            params={"q": "CAMILLE.durand@example.fr"},
        )
        assert {s["shipment_id"] for s in found.json()["shipments"]} == {
            f"S1-{unique}",
            f"S2-{unique}",
        }
        refused = await client.get(
            f"/v1/office/{merchant.merchant_id}/shipments", params={"status": "teleported"}
        )
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["query", "status"]
    async with httpx.AsyncClient(base_url=insights.base_url) as anonymous:
        assert (
            await anonymous.get(f"/v1/office/{merchant.merchant_id}/shipments")
        ).status_code == 401


async def test_the_tombstone_erases_the_row_and_the_timeline(
    infrastructure: Infrastructure,
    insights: RunningInsights,
    tenant: tuple[Path, Tenant],
    unique: str,
) -> None:
    merchant_id = tenant[1].merchant_id
    shipment = f"S2-{unique}"
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            f"test-{unique}.{shipment_state.TOPIC.name}",
            key=f"{merchant_id}/{shipment}".encode(),
            value=None,
        )
    finally:
        await producer.stop()

    async def erased() -> bool:
        rows = await fetch(
            insights,
            "SELECT (SELECT count(*) FROM office_shipments WHERE merchant_id = $1"
            " AND shipment_id = $2) + (SELECT count(*) FROM office_timeline"
            " WHERE merchant_id = $1 AND shipment_id = $2) AS left_over",
            merchant_id,
            shipment,
        )
        return bool(rows[0]["left_over"] == 0)

    assert await eventually(erased, timeout_s=45)
    assert await timeline_kinds(insights, merchant_id, f"S1-{unique}")  # the other one stays
