"""Carrier webhooks: every bad input refused with its status and nothing published;
an accepted payload is on the carrier-updates topic, raw, before the 202."""

from __future__ import annotations

import time

from relais_contracts.topics import carrier_updates
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived, UpdateSource
from tests.integration.tracker.conftest import StartTracker, generic_payload


async def test_bad_webhook_calls_are_refused_and_only_the_good_one_is_published(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    client = tracker.client
    good = generic_payload(
        "RL000111222", ("2026-03-02T10:00:00+01:00", "accepted_by_carrier", "PU")
    )

    unsigned = await client.post("/webhooks/carriers/generic", content=good)
    assert unsigned.status_code == 401
    forged = await client.post(
        "/webhooks/carriers/generic",
        content=good,
        headers={"X-Relais-Signature": "sha256=" + "0" * 64},
    )
    assert forged.status_code == 401
    tampered = await client.post(
        "/webhooks/carriers/generic", content=good + b" ", headers=tracker.sign(good)
    )
    assert tampered.status_code == 401
    no_credentials = await tracker.webhook(good, carrier="dhl")
    assert no_credentials.status_code == 401, "no dhl credential is configured"

    too_large = b"x" * 5000
    declared = await tracker.webhook(too_large)
    assert declared.status_code == 413
    assert "4096" in declared.json()["detail"]

    async def chunks() -> object:
        for _ in range(10):
            yield b"y" * 1000

    streamed = await client.post(
        "/webhooks/carriers/generic",
        content=chunks(),  # type: ignore[arg-type]
        headers=tracker.sign(b"irrelevant"),
    )
    assert streamed.status_code == 413, "no Content-Length: refused while streaming"

    not_json = await tracker.webhook(b"<xml/>")
    assert not_json.status_code == 400
    assert not_json.json()["detail"].startswith("malformed generic payload: ")
    no_events = await tracker.webhook(b'{"events": []}')
    assert no_events.status_code == 400
    assert "tracking_number" in no_events.json()["detail"]

    unknown = await tracker.webhook(good, carrier="pigeon_post")
    assert unknown.status_code == 404

    accepted = await tracker.webhook(good)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["events"] == 1

    records = await tracker.read(carrier_updates.TOPIC.name, until=lambda got: len(got) >= 1)
    # Give any wrongly published message the chance to show up after the good one.
    records = await tracker.read(
        carrier_updates.TOPIC.name, until=lambda got: len(got) > 1, timeout_s=2
    )
    assert len(records) == 1
    update = carrier_updates.TOPIC.decode(records[0].value or b"")
    assert isinstance(update, CarrierUpdateReceived)
    assert str(update.event_id) == accepted.json()["accepted"]
    assert update.payload.encode() == good, "published raw, as received"
    assert update.source is UpdateSource.WEBHOOK
    assert update.tracking_number == "RL000111222"
    assert update.merchant_id == "unknown"
    assert records[0].key == b"generic:RL000111222"

    metrics = (await client.get("/metrics")).text
    for outcome in ("unauthorized", "too_large", "malformed", "accepted"):
        assert f'carrier="generic",outcome="{outcome}"' in metrics


async def test_a_timestamped_signature_older_than_the_tolerance_is_refused(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker(timestamped=True, webhook_signature_tolerance_s=300)
    body = generic_payload(
        "RL000333444", ("2026-03-02T10:00:00+01:00", "accepted_by_carrier", "PU")
    )
    now = int(time.time())

    replayed = await tracker.client.post(
        "/webhooks/carriers/generic", content=body, headers=tracker.sign(body, timestamp=now - 330)
    )
    assert replayed.status_code == 401
    from_the_future = await tracker.client.post(
        "/webhooks/carriers/generic", content=body, headers=tracker.sign(body, timestamp=now + 330)
    )
    assert from_the_future.status_code == 401
    fresh = await tracker.client.post(
        "/webhooks/carriers/generic", content=body, headers=tracker.sign(body, timestamp=now - 60)
    )
    assert fresh.status_code == 202

    records = await tracker.read(
        carrier_updates.TOPIC.name, until=lambda got: len(got) > 1, timeout_s=3
    )
    assert len(records) == 1, "the refused calls published nothing"
    accepted = carrier_updates.TOPIC.decode(records[0].value or b"")
    assert str(accepted.event_id) == fresh.json()["accepted"]
