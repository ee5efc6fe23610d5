"""The webhook route with the aggregators' own authentication: 17TRACK's `sign` header
(SHA-256 of body + "/" + key) and Karrio's `X-Event-Id` secret; good, bad and missing
signatures, and nothing published unless the call verifies."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from relais_contracts.topics import carrier_updates
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived
from relais_runtime.merchants.base import SecretRef
from relais_runtime.merchants.tracking import CarrierWebhookAuth, WebhookScheme
from relais_tracker.adapters.webhook_auth import WebhookAuthenticator
from relais_tracker.handlers import WebhookIntake, webhooks_router

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"
KEY = "17track-key-for-tests"
KARRIO_SECRET = "karrio-webhook-secret-for-tests"


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, *, value: bytes, key: Any, headers: Any) -> Any:
        self.sent.append((topic, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
def route(monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, FakeProducer]:
    monkeypatch.setenv("TEST_17TRACK_KEY", KEY)
    monkeypatch.setenv("TEST_KARRIO_SECRET", KARRIO_SECRET)
    authenticator = WebhookAuthenticator.of(
        platform={
            "seventeen_track": CarrierWebhookAuth(
                scheme=WebhookScheme.SEVENTEEN_TRACK_SIGN,
                header="sign",
                secret=SecretRef(env="TEST_17TRACK_KEY"),
            ),
            "karrio": CarrierWebhookAuth(
                scheme=WebhookScheme.SHARED_SECRET,
                header="X-Event-Id",
                secret=SecretRef(env="TEST_KARRIO_SECRET"),
            ),
        },
        merchants={},
    )
    producer = FakeProducer()
    app = FastAPI()
    app.include_router(
        webhooks_router(
            WebhookIntake(
                producer=producer,
                topic=carrier_updates.TOPIC,
                authenticator=authenticator,
                max_body_bytes=256 * 1024,
                now=lambda: datetime(2026, 3, 6, 15, 0, tzinfo=UTC),
            )
        )
    )
    return TestClient(app), producer


def test_a_17track_push_is_accepted_only_with_its_sign(
    route: tuple[TestClient, FakeProducer],
) -> None:
    client, producer = route
    body = (
        FIXTURES / "seventeen_track" / "v24_colissimo_absent_then_pickup_point.json"
    ).read_bytes()
    good = hashlib.sha256(body + b"/" + KEY.encode()).hexdigest()

    missing = client.post("/webhooks/carriers/17track", content=body)
    forged = client.post(
        "/webhooks/carriers/17track",
        content=body,
        headers={"sign": hashlib.sha256(body + b"/wrong-key").hexdigest()},
    )
    tampered = client.post(
        "/webhooks/carriers/17track", content=body + b"\n", headers={"sign": good}
    )
    assert (missing.status_code, forged.status_code, tampered.status_code) == (401, 401, 401)
    assert producer.sent == []

    accepted = client.post("/webhooks/carriers/17track", content=body, headers={"sign": good})

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["events"] == 7
    [(topic, value)] = producer.sent
    update = carrier_updates.TOPIC.decode(value)
    assert isinstance(update, CarrierUpdateReceived)
    assert topic == carrier_updates.TOPIC.name
    assert update.carrier == "seventeen_track"
    assert update.tracking_number == "CB305712448FR"
    assert update.payload.encode() == body


def test_a_karrio_tracker_webhook_is_accepted_only_with_its_secret(
    route: tuple[TestClient, FakeProducer],
) -> None:
    client, producer = route
    body = (FIXTURES / "karrio" / "laposte_absent_pickup_point.json").read_bytes()

    missing = client.post("/webhooks/carriers/karrio", content=body)
    wrong = client.post("/webhooks/carriers/karrio", content=body, headers={"X-Event-Id": "nope"})
    sign_is_not_karrios = client.post(
        "/webhooks/carriers/karrio",
        content=body,
        headers={"sign": hashlib.sha256(body + b"/" + KEY.encode()).hexdigest()},
    )
    assert {missing.status_code, wrong.status_code, sign_is_not_karrios.status_code} == {401}
    assert producer.sent == []

    accepted = client.post(
        "/webhooks/carriers/karrio", content=body, headers={"X-Event-Id": KARRIO_SECRET}
    )

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["events"] == 5
    [(_, value)] = producer.sent
    update = carrier_updates.TOPIC.decode(value)
    assert isinstance(update, CarrierUpdateReceived)
    assert update.tracking_number == "6A23456789012"
