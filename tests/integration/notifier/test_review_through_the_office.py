"""Review mode across services: the notifier and insights in this process on the real
broker and PostgreSQL, with a real SMTP server, one clock (10:00 UTC tomorrow: no quiet
hours) and a merchant configured like the demo's velocity-sports (`lost` in review).

Two parcels are lost: the notifier holds both messages (no email) and insights shows them
in the office's review queue; an agent signs in and sends one (its email arrives) and
dismisses the other (no email, NotificationSuppressed `dismissed_by_merchant`), each
decision travelling as ReviewDecided through the insights outbox and
relais.notification-commands.v1 to the notifier. The shipment state and the anomalies
travel on this test's own topics; notifications and commands on the registry's topics,
read by consumer groups of this run that start at their end.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from argon2 import PasswordHasher

from relais_contracts.catalogue import AnomalyType
from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics import anomalies, notification_commands, shipment_state
from relais_insights import bootstrap as insights_bootstrap
from relais_insights.domain.office import Role
from relais_insights.service import office_users
from relais_insights.settings import InsightsSettings
from relais_notifier.bootstrap import build_spec as notifier_spec
from relais_notifier.settings import NotifierSettings
from relais_runtime.clock import clock_from_spec
from relais_runtime.kafka import publish_events
from relais_runtime.service import Dependencies, RunningService, Wiring
from tests.conftest import REPO_ROOT, Infrastructure, drop_schemas, free_port
from tests.integration.conftest import eventually
from tests.integration.insights.support import create_topics, delete_topics
from tests.integration.insights.support import test_topic as private_copy
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import SmsProvider, SmtpServer, notifier_settings

pytestmark = pytest.mark.integration

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
PRIVATE = (shipment_state.TOPIC.name, anomalies.TOPIC.name)


@dataclass
class Office:
    merchant_id: str
    insights_url: str
    schemas: dict[str, str]
    database_url: str

    async def fetch(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(
            self.database_url, server_settings={"search_path": self.schemas[service]}
        )
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()


def review_merchant(directory: Path, merchant_id: str) -> None:
    """velocity-sports under this run's id (`lost` and `damaged` in review), without the
    webhook (its secret lives in the environment) and with its own API key."""
    directory.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((Path(REPO_ROOT) / "deploy/merchants/velocity-sports.yaml").read_text())
    assert config["notification"]["anomalies"]["lost"]["delivery"] == "review"
    config["merchant_id"] = merchant_id
    config.pop("actions", None)
    key = secrets.token_urlsafe(24)
    config["tracking"] = {
        "api_keys": [{"id": "test", "sha256": hashlib.sha256(key.encode()).hexdigest()}]
    }
    (directory / f"{merchant_id}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))


def notifier_topics(wiring: Wiring, names: dict[str, str]) -> Wiring:
    """The notifier reads its inputs on this test's topics and the commands on the registry's."""
    kept = [*names, notification_commands.TOPIC.name]
    return replace(
        wiring,
        subscriptions=[
            replace(sub, topic=replace(sub.topic, name=names.get(sub.topic.name, sub.topic.name)))
            for sub in wiring.subscriptions
            if sub.topic.name in kept
        ],
    )


def insights_topic(topic: Topic, unique: str) -> Topic:
    """Insights reads the notifier's notifications on the registry's topic, the rest on ours."""
    return topic if topic.name == "relais.notifications.v1" else private_copy(topic, unique)


@pytest.fixture
async def office(
    infrastructure: Infrastructure,
    unique: str,
    smtp: SmtpServer,
    sms_provider: SmsProvider,
    tmp_path: Path,
) -> AsyncIterator[Office]:
    merchant_id = f"review-{unique}"
    merchants = tmp_path / "merchants"
    review_merchant(merchants, merchant_id)
    real = datetime.now(UTC)
    virtual = (real + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    clock_spec = f"scaled:{real.isoformat()}|{virtual.isoformat()}|1"
    schemas = {"insights": f"test_{unique}_ins", "notifier": f"test_{unique}_ntf"}
    insights_port = free_port()
    insights_settings = InsightsSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        database_url=infrastructure.database_url,
        http_port=insights_port,
        consumer_group_prefix=f"test-{unique}.",
        consumer_new_groups_start="now",
        session_secrets=["test-only-review-session-secret-" + secrets.token_urlsafe(16)],
        merchants_dir=merchants,
        outbox_poll_interval_s=0.1,
        clock=clock_spec,
    )
    insights = RunningService(
        replace(
            insights_bootstrap.build_spec(),
            schema=schemas["insights"],
            wire=partial(insights_bootstrap.wire, topic_map=partial(insights_topic, unique=unique)),
        ),
        insights_settings,
    )
    spec = notifier_spec(clock=clock_from_spec(clock_spec))
    names = {name: private_name(name, unique) for name in PRIVATE}

    def wire(dependencies: Dependencies[NotifierSettings]) -> Wiring:
        return notifier_topics(spec.wire(dependencies), names)

    settings = notifier_settings(
        infrastructure,
        smtp_port=smtp.port,
        sms_base_url=sms_provider.base_url,
        http_port=free_port(),
    ).model_copy(
        update={
            "consumer_group_prefix": f"test-{unique}.",
            "consumer_new_groups_start": "now",
            "merchants_dir": merchants,
            "outbox_poll_interval_s": 0.1,
        }
    )
    notifier = RunningService(replace(spec, schema=schemas["notifier"], wire=wire), settings)
    topics = await create_topics(infrastructure, unique)
    try:
        await insights.start()
        await notifier.start()
        yield Office(
            merchant_id,
            f"http://127.0.0.1:{insights_port}",
            schemas,
            infrastructure.database_url,
        )
    finally:
        await notifier.stop()
        await insights.stop()
        await drop_schemas(infrastructure.database_url, list(schemas.values()))
        await delete_topics(infrastructure, topics)


def private_name(name: str, unique: str) -> str:
    return f"test-{unique}.{name}"


async def publish(infrastructure: Infrastructure, unique: str, events: Sequence[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            name = (
                shipment_state.TOPIC.name
                if isinstance(event, shipment_state.ShipmentStateChanged)
                else anomalies.TOPIC.name
            )
            await publish_events(producer, topic=private_name(name, unique), events=[event])
    finally:
        await producer.stop()


async def agent_client(office: Office) -> tuple[str, str]:
    email, password = "agent@example.test", secrets.token_urlsafe(12)
    connection = await asyncpg.connect(
        office.database_url, server_settings={"search_path": office.schemas["insights"]}
    )
    try:
        await office_users.add_user(
            connection,
            CHEAP_HASHER,
            merchant_id=office.merchant_id,
            email=email,
            display_name="Agent",
            role=Role.AGENT,
            language="en",
            password=password,
            at=datetime.now(UTC),
        )
    finally:
        await connection.close()
    return email, password


async def test_held_lost_parcels_wait_for_the_agent_who_sends_one_and_dismisses_the_other(
    infrastructure: Infrastructure, unique: str, office: Office, smtp: SmtpServer
) -> None:
    merchant_id = office.merchant_id
    parcels = {"send": f"S-send-{unique}", "dismiss": f"S-dismiss-{unique}"}
    emails = {which: f"{which}-{unique}@example.com" for which in parcels}
    states = [
        factories.state(
            merchant_id=merchant_id, shipment_id=shipment, email=emails[which]
        ).model_copy(update={"order_number": f"#{which}-{unique}"})
        for which, shipment in parcels.items()
    ]
    await publish(infrastructure, unique, states)
    await publish(
        infrastructure,
        unique,
        [
            factories.anomaly(
                merchant_id=merchant_id, shipment_id=shipment, anomaly_type=AnomalyType.LOST
            )
            for shipment in parcels.values()
        ],
    )

    async def queued() -> dict[str, Any]:
        rows = await office.fetch(
            "insights",
            "SELECT shipment_id, review_id FROM office_reviews"
            " WHERE merchant_id = $1 AND status = 'held'",
            merchant_id,
        )
        return {row["shipment_id"]: row["review_id"] for row in rows}

    assert await eventually(partial(_has, queued, 2), timeout_s=90)
    reviews = await queued()
    assert smtp.recorder.to(emails["send"]) == []
    assert smtp.recorder.to(emails["dismiss"]) == []

    email, password = await agent_client(office)
    base = f"/office/{merchant_id}/review"
    async with httpx.AsyncClient(base_url=office.insights_url) as client:
        signed = await client.post(
            f"/office/{merchant_id}/login", data={"email": email, "password": password}
        )
        assert signed.status_code == 303, signed.text
        page = await client.get(f"{base}?lang=en")
        assert page.status_code == 200
        assert f"#send-{unique}" in page.text
        assert f"#dismiss-{unique}" in page.text
        found = CSRF.search(page.text)
        assert found
        token = found.group(1)
        sent = await client.post(
            f"{base}/{reviews[parcels['send']]}/send", data={"csrf_token": token}
        )
        assert sent.status_code == 303, sent.text
        dismissed = await client.post(
            f"{base}/{reviews[parcels['dismiss']]}/dismiss", data={"csrf_token": token}
        )
        assert dismissed.status_code == 303, dismissed.text

    assert await eventually(partial(_mailed, smtp, emails["send"]), timeout_s=60)
    [message] = smtp.recorder.to(emails["send"])
    assert "Velocity Sports" in str(message["From"])

    async def suppressed() -> list[dict[str, Any]]:
        rows = await office.fetch(
            "notifier",
            "SELECT value FROM outbox WHERE key = $1 ORDER BY id",
            f"{merchant_id}/{parcels['dismiss']}".encode(),
        )
        events = [json.loads(bytes(row["value"])) for row in rows]
        return [e for e in events if e["event_type"] == "NotificationSuppressed"]

    assert await eventually(partial(_nonempty, suppressed), timeout_s=60)
    [dismissal] = await suppressed()
    assert dismissal["reason"] == "dismissed_by_merchant"
    assert smtp.recorder.to(emails["dismiss"]) == []

    async def closed() -> dict[str, str]:
        rows = await office.fetch(
            "notifier",
            "SELECT shipment_id, status FROM reviews WHERE merchant_id = $1",
            merchant_id,
        )
        return {row["shipment_id"]: row["status"] for row in rows}

    assert await closed() == {parcels["send"]: "sent", parcels["dismiss"]: "dismissed"}


async def _has(rows: Any, count: int) -> bool:
    return len(await rows()) == count


async def _nonempty(rows: Any) -> bool:
    return bool(await rows())


async def _mailed(smtp: SmtpServer, address: str) -> bool:
    return bool(smtp.recorder.to(address))
