"""The whole notifier service: Kafka in, SMTP out, outcomes through the outbox to Kafka.

The service runs in process with the production wiring and a ManualClock; its
subscriptions read throw-away topics so the test sees only its own input.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from relais_contracts import ids
from relais_contracts.topics import notifications
from relais_contracts.topics.notifications import NotificationSent
from relais_notifier.bootstrap import build_spec
from relais_runtime.clock import ManualClock
from relais_runtime.kafka import make_producer, publish_events
from relais_runtime.service import Dependencies, RunningService, Wiring
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually, read_topic
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import (
    SmsProvider,
    SmtpServer,
    free_port,
    notifier_settings,
)


async def test_service_consumes_sends_and_publishes_the_outcome(
    infrastructure: Infrastructure,
    schema: str,
    unique: str,
    new_topic: object,
    smtp: SmtpServer,
    sms_provider: SmsProvider,
) -> None:
    topics = {
        "relais.shipment-state.v1": await new_topic(f"test-{unique}-state"),  # type: ignore[operator]
        "relais.anomalies.v1": await new_topic(f"test-{unique}-anomalies"),  # type: ignore[operator]
        "relais.action-results.v1": await new_topic(f"test-{unique}-results"),  # type: ignore[operator]
    }
    clock = ManualClock(datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    spec = build_spec(clock=clock)

    def wire(dependencies: Dependencies) -> Wiring:
        wiring = spec.wire(dependencies)
        return replace(
            wiring,
            subscriptions=[
                replace(sub, topic=replace(sub.topic, name=topics[sub.topic.name]))
                for sub in wiring.subscriptions
                if sub.topic.name in topics
            ],
        )

    settings = notifier_settings(
        infrastructure,
        smtp_port=smtp.port,
        sms_base_url=sms_provider.base_url,
        http_port=free_port(),
    ).model_copy(update={"consumer_group_prefix": f"test-{unique}."})
    service = RunningService(replace(spec, schema=schema, wire=wire), settings)

    shipment_id = f"S-{unique}"
    email = f"kafka-{unique}@example.com"
    state = factories.state(merchant_id="maison-lumiere", shipment_id=shipment_id, email=email)
    detected = factories.anomaly(merchant_id="maison-lumiere", shipment_id=shipment_id)
    await service.start()
    try:
        producer = make_producer(settings, client_id="test-detector")
        await producer.start()
        try:
            await publish_events(producer, topic=topics["relais.shipment-state.v1"], events=[state])

            async def contact_stored() -> bool:
                return await _has_contact(service, shipment_id)

            assert await eventually(contact_stored, timeout_s=30)
            # Published twice, as a redelivery would: one email.
            await publish_events(producer, topic=topics["relais.anomalies.v1"], events=[detected])
            await publish_events(producer, topic=topics["relais.anomalies.v1"], events=[detected])
        finally:
            await producer.stop()

        async def delivered() -> bool:
            return bool(smtp.recorder.to(email))

        assert await eventually(delivered, timeout_s=30)
        key = ids.notification_key(detected.anomaly_id, "email", "initial")
        records = await read_topic(
            infrastructure.kafka_bootstrap,
            notifications.TOPIC.name,
            until=lambda records: any(key.encode() in record.value for record in records),
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.http_port}") as client:
            metrics = (await client.get("/metrics")).text
        await asyncio.sleep(0.5)
    finally:
        await service.stop()

    assert len(smtp.recorder.to(email)) == 1
    outcomes = [
        notifications.TOPIC.decode(record.value)
        for record in records
        if key.encode() in record.value
    ]
    assert [type(event) for event in outcomes] == [NotificationSent]
    assert outcomes[0].merchant_id == "maison-lumiere"
    assert email.encode() not in b"".join(record.value for record in records)
    assert 'relais_notification_outcomes_total{channel="email",outcome="sent"' in metrics


async def _has_contact(service: RunningService, shipment_id: str) -> bool:
    pool = service._pool
    assert pool is not None
    async with pool.acquire() as connection:
        return bool(
            await connection.fetchval("SELECT 1 FROM contacts WHERE shipment_id = $1", shipment_id)
        )
