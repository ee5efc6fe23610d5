"""A merchant declares an order late through the order API: the tracker publishes the new
promise with the reason, the detector opens the anomaly at once (no grace period), and
the notifier's email, read back from the real SMTP server, gives the reason and the new
date. Tracker, detector and notifier run in this process on throw-away topics, on one
clock, with the merchant `shop-a` configured like the demo's velocity-sports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from relais_contracts.catalogue import AnomalyType
from relais_contracts.topics import action_results, anomalies, shipment_state
from relais_contracts.topics.anomalies import AnomalyDetected
from relais_detector.bootstrap import build_spec as detector_spec
from relais_detector.bootstrap import wire as detector_wire
from relais_detector.service.detection import DetectorTopics
from relais_detector.settings import DetectorSettings
from relais_runtime.clock import clock_from_spec
from relais_runtime.service import RunningService
from tests.conftest import REPO_ROOT, Infrastructure, drop_schemas, free_port
from tests.integration.conftest import eventually, read_topic
from tests.integration.notifier.conftest import SmsProvider, SmtpServer
from tests.integration.notifier.running import running_notifier
from tests.integration.tracker.conftest import StartTracker, order_body
from tests.integration.tracker.conftest import start_tracker as start_tracker  # the fixture


def notifying_merchants(directory: Path) -> Path:
    """shop-a (the tracker's test merchant) with the notification and detection settings
    of the demo's velocity-sports (which also tells preparation delays), for the detector
    and the notifier."""
    directory.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((Path(REPO_ROOT) / "deploy/merchants/velocity-sports.yaml").read_text())
    config.update(merchant_id="shop-a")
    config["notification"]["anomalies"]["preparation_delay"] = {"template": "preparation_delay"}
    config.pop("tracking", None)
    config.pop("actions", None)
    (directory / "shop-a.yaml").write_text(yaml.safe_dump(config))
    return directory


@pytest.fixture
async def schemas(infrastructure: Infrastructure, unique: str) -> AsyncIterator[dict[str, str]]:
    names = {"detector": f"test_{unique}_det", "notifier": f"test_{unique}_ntf"}
    yield names
    await drop_schemas(infrastructure.database_url, list(names.values()))


async def test_a_declared_delay_is_told_at_once_with_the_reason_and_the_new_date(
    start_tracker: StartTracker,
    infrastructure: Infrastructure,
    unique: str,
    schemas: dict[str, str],
    new_topic: Callable[..., Awaitable[str]],
    smtp: SmtpServer,
    sms_provider: SmsProvider,
    tmp_path: Path,
) -> None:
    # One clock for the three services: 10:00 UTC tomorrow (no quiet hours), real speed.
    real = datetime.now(UTC)
    virtual = (real + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    clock_spec = f"scaled:{real.isoformat()}|{virtual.isoformat()}|1"
    tracker = await start_tracker(clock=clock_spec)
    merchants = notifying_merchants(tmp_path / "notifying")
    topics = DetectorTopics(
        shipment_state=replace(
            shipment_state.TOPIC, name=tracker.topics[shipment_state.TOPIC.name]
        ),
        action_results=replace(
            action_results.TOPIC, name=await new_topic(f"test.{unique}.action-results")
        ),
        anomalies=replace(anomalies.TOPIC, name=await new_topic(f"test.{unique}.anomalies")),
    )
    detector = RunningService(
        replace(
            detector_spec(),
            schema=schemas["detector"],
            wire=partial(detector_wire, clock=clock_from_spec(clock_spec), topics=topics),
        ),
        DetectorSettings(
            kafka_bootstrap=infrastructure.kafka_bootstrap,
            database_url=infrastructure.database_url,
            http_port=free_port(),
            consumer_group_prefix=f"test-{unique}.",
            merchants_dir=merchants,
            outbox_poll_interval_s=0.1,
        ),
    )
    email = f"delay-{unique}@example.com"
    body = order_body(parcels=[("P-1", None)])
    body["customer"] = {**body["customer"], "email": email, "locale": "en-GB"}
    body["promised_ship_by"] = (virtual + timedelta(days=1)).isoformat()
    body["promised_delivery_by"] = (virtual + timedelta(days=3)).date().isoformat()
    await detector.start()
    try:
        async with running_notifier(
            infrastructure,
            schema=schemas["notifier"],
            unique=unique,
            topics={
                shipment_state.TOPIC.name: topics.shipment_state.name,
                anomalies.TOPIC.name: topics.anomalies.name,
                action_results.TOPIC.name: topics.action_results.name,
            },
            smtp=smtp,
            sms_provider=sms_provider,
            clock=clock_from_spec(clock_spec),
            merchants_dir=merchants,
        ):
            placed = await tracker.client.post(
                "/v1/orders", json=body, headers=tracker.auth("shop-a")
            )
            assert placed.status_code == 202, placed.text
            await _until_order_known(tracker, body["order_id"])

            bad = await tracker.client.post(
                f"/v1/orders/{body['order_id']}/delay",
                json={"reason": "stock"},
                headers=tracker.auth("shop-a"),
            )
            assert bad.status_code == 422
            assert {tuple(p["loc"]) for p in bad.json()["detail"]} == {
                ("body", "new_ship_by"),
                ("body", "new_delivery_by"),
            }
            new_day = (virtual + timedelta(days=6)).date()
            declared = await tracker.client.post(
                f"/v1/orders/{body['order_id']}/delay",
                json={
                    "reason": "stock",
                    "note": "Our supplier delivers on Monday",
                    "new_ship_by": (virtual + timedelta(days=4)).isoformat(),
                    "new_delivery_by": new_day.isoformat(),
                },
                headers=tracker.auth("shop-a"),
            )
            assert declared.status_code == 202, declared.text
            assert declared.json()["event_type"] == "OrderUpdated"

            async def received() -> bool:
                return bool(smtp.recorder.to(email))

            assert await eventually(received, timeout_s=45)
    finally:
        await detector.stop()

    [message] = smtp.recorder.to(email)
    text = str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert message["Subject"] == f"Your order {body['order_number']} will be late"
    assert "will be late because an item is out of stock." in text
    assert "Velocity Sports adds: Our supplier delivers on Monday" in text
    assert f"It should reach you by {new_day:%A}, {new_day.day} {new_day:%B %Y}." in text
    opened = await _anomalies(infrastructure, topics.anomalies.name)
    assert [a.anomaly_type for a in opened] == [AnomalyType.PREPARATION_DELAY]
    assert opened[0].evidence.declared_delay is not None
    assert opened[0].evidence.deadline is None, "told at once, not after a deadline"
    assert opened[0].shipment.promised_delivery_by == new_day


async def _until_order_known(tracker: Any, order_id: str) -> None:
    async def known() -> bool:
        rows = await tracker.query("SELECT 1 FROM shipments WHERE order_id = $1", order_id)
        return bool(rows)

    assert await eventually(known, timeout_s=20)


async def _anomalies(infrastructure: Infrastructure, topic: str) -> list[AnomalyDetected]:
    records = await read_topic(
        infrastructure.kafka_bootstrap,
        topic,
        until=lambda got: any(b"AnomalyDetected" in (r.value or b"") for r in got),
    )
    decoded = [anomalies.TOPIC.decode(r.value or b"") for r in records]
    return [event for event in decoded if isinstance(event, AnomalyDetected)]
