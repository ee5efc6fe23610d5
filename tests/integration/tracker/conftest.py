"""A real tracker in-process (real Kafka, real PostgreSQL) on its own schema and topics.

Every test gets fresh topics (through the tracker's `topic_overrides`), a fresh
schema, a fresh consumer group prefix, merchants with generated API keys and a
generated carrier webhook secret: nothing is shared with other tests or the demo.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
import yaml
from aiokafka import ConsumerRecord

from relais_contracts.topics import carrier_updates, orders, shipment_state, tracking_events
from relais_contracts.webhooks import signature_header
from relais_runtime.api_keys import api_key_sha256
from relais_runtime.merchants.base import SecretRef
from relais_runtime.merchants.tracking import CarrierWebhookAuth, WebhookScheme
from relais_runtime.service import RunningService
from relais_tracker.bootstrap import build_spec
from relais_tracker.settings import TrackerSettings
from tests.conftest import Infrastructure
from tests.integration.conftest import read_topic

SIGNATURE_HEADER = "X-Relais-Signature"
MERCHANTS = ("shop-a", "shop-b")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Tracker:
    settings: TrackerSettings
    schema: str
    topics: dict[str, str]
    api_keys: dict[str, str]
    webhook_secret: bytes
    service: RunningService
    client: httpx.AsyncClient
    timestamped: bool = False
    """The generic carrier signs `t=<unix>,v1=<hmac of t.body>` (replay-protected)."""

    def sign(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        if self.timestamped:
            stamp = int(time.time()) if timestamp is None else timestamp
            value = signature_header([self.webhook_secret], stamp, body)
            return {SIGNATURE_HEADER: value, "content-type": "application/json"}
        digest = hmac.new(self.webhook_secret, body, hashlib.sha256).hexdigest()
        return {SIGNATURE_HEADER: f"sha256={digest}", "content-type": "application/json"}

    def auth(self, merchant_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_keys[merchant_id]}"}

    async def webhook(self, body: bytes, *, carrier: str = "generic") -> httpx.Response:
        return await self.client.post(
            f"/webhooks/carriers/{carrier}", content=body, headers=self.sign(body)
        )

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(
            self.settings.database_url, server_settings={"search_path": self.schema}
        )
        try:
            return await connection.fetch(sql, *args)
        finally:
            await connection.close()

    async def read(
        self,
        contract_topic: str,
        *,
        until: Callable[[Sequence[ConsumerRecord[bytes, bytes]]], bool],
        timeout_s: float = 30.0,
    ) -> list[ConsumerRecord[bytes, bytes]]:
        return await read_topic(
            self.settings.kafka_bootstrap,
            self.topics[contract_topic],
            until=until,
            timeout_s=timeout_s,
        )


def write_merchants(directory: Path) -> dict[str, str]:
    """Two merchants with one freshly generated API key each; returns the keys."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = {}
    for merchant_id in MERCHANTS:
        key = "rk_" + secrets.token_urlsafe(32)
        keys[merchant_id] = key
        config = {
            "merchant_id": merchant_id,
            "branding": {"display_name": merchant_id.title()},
            "tracking": {"api_keys": [{"id": "test", "sha256": api_key_sha256(key)}]},
        }
        (directory / f"{merchant_id}.yaml").write_text(yaml.safe_dump(config))
    return keys


StartTracker = Callable[..., Awaitable[Tracker]]


@pytest.fixture
async def start_tracker(
    infrastructure: Infrastructure,
    schema: str,
    unique: str,
    new_topic: Callable[..., Awaitable[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[StartTracker]:
    started: list[Tracker] = []

    async def start(
        *,
        timestamped: bool = False,
        webhooks: dict[str, CarrierWebhookAuth] | None = None,
        **overrides: Any,
    ) -> Tracker:
        """`webhooks`: carrier credentials added to the generic carrier's."""
        topics = {
            topic.name: await new_topic(f"test.{unique}.{topic.name}")
            for topic in (
                orders.TOPIC,
                carrier_updates.TOPIC,
                tracking_events.TOPIC,
                shipment_state.TOPIC,
            )
        }
        secret = secrets.token_hex(24)
        secret_env = f"TEST_TRACKER_WEBHOOK_SECRET_{unique.upper()}"
        monkeypatch.setenv(secret_env, secret)
        keys = write_merchants(tmp_path / "merchants")
        settings = TrackerSettings(
            kafka_bootstrap=infrastructure.kafka_bootstrap,
            database_url=infrastructure.database_url,
            http_port=free_port(),
            consumer_group_prefix=f"test-{unique}.",
            merchants_dir=tmp_path / "merchants",
            topic_overrides=topics,
            carrier_webhooks={
                "generic": CarrierWebhookAuth(
                    scheme=WebhookScheme.TIMESTAMPED_HMAC_SHA256,
                    header=SIGNATURE_HEADER,
                    secret=SecretRef(env=secret_env),
                )
                if timestamped
                else CarrierWebhookAuth(
                    scheme=WebhookScheme.HMAC_SHA256,
                    header=SIGNATURE_HEADER,
                    prefix="sha256=",
                    secret=SecretRef(env=secret_env),
                ),
                **(webhooks or {}),
            },
            webhook_max_body_bytes=4096,
            outbox_poll_interval_s=0.1,
            **overrides,
        )
        service = RunningService(replace(build_spec(), schema=schema), settings)
        await service.start()
        tracker = Tracker(
            settings=settings,
            schema=schema,
            topics=topics,
            api_keys=keys,
            webhook_secret=secret.encode(),
            service=service,
            client=httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.http_port}"),
            timestamped=timestamped,
        )
        started.append(tracker)
        return tracker

    yield start
    for tracker in started:
        await tracker.client.aclose()
        await tracker.service.stop()


def order_body(
    *,
    order_id: str | None = None,
    parcels: Sequence[tuple[str, str | None]] = (),
    placed_at: str = "2026-03-02T09:00:00+01:00",
) -> dict[str, Any]:
    """An order as a merchant POSTs it: the example order, with the given parcels as
    (shipment_id, tracking number on the `generic` carrier, or None if not shipped)."""
    example = json.loads(
        (orders.TOPIC.examples_dir() / "OrderPlaced-home-colissimo.json").read_text()
    )
    for name in ("event_id", "event_type", "schema_version", "occurred_at", "produced_at"):
        example.pop(name)
    example.pop("merchant_id")
    example.pop("correlation_id")
    order_id = order_id or f"order-{uuid4().hex[:8]}"
    template = example["parcels"][0]
    example.update(
        order_id=order_id,
        order_number=f"#{order_id[-6:]}",
        placed_at=placed_at,
        promised_ship_by=None,
        parcels=[
            {
                **template,
                "shipment_id": shipment_id,
                "carrier": "generic" if number else None,
                "tracking_number": number,
                "shipped_at": None,
            }
            for shipment_id, number in parcels
        ],
    )
    return example


def generic_payload(tracking_number: str, *events: tuple[str, str, str]) -> bytes:
    """A generic Relais format payload: events as (occurred_at, substatus, carrier code)."""
    return json.dumps(
        {
            "tracking_number": tracking_number,
            "events": [
                {
                    "occurred_at": occurred_at,
                    "substatus": substatus,
                    "carrier_code": code,
                    "description": f"{substatus} ({code})",
                }
                for occurred_at, substatus, code in events
            ],
        }
    ).encode()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
