"""Aggregators, recognition, held events and unknown codes, end to end on a real tracker:
a 17TRACK push signed with its key (good, bad and missing `sign`) updates an order whose
parcel named no carrier (recognised from its number); held events expire with their
metric; codes no table knows are counted durably; the unmatched list says why."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from relais_runtime.merchants.base import SecretRef
from relais_runtime.merchants.tracking import CarrierWebhookAuth, WebhookScheme
from relais_tracker import repository
from relais_tracker.domain.held_events import HeldReason, why_held
from tests.integration.conftest import eventually
from tests.integration.tracker.conftest import StartTracker, Tracker, order_body
from tests.integration.tracker.test_carrier_matching import generic_for, until_substatus

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"


async def _with_connection(tracker: Tracker, read: Any) -> Any:
    connection = await asyncpg.connect(
        tracker.settings.database_url, server_settings={"search_path": tracker.schema}
    )
    try:
        return await read(connection)
    finally:
        await connection.close()


def _compact_push() -> bytes:
    """The replayed 17TRACK push without the fields the adapter does not read, on one
    line: under the test tracker's 4 KiB body limit."""
    document = json.loads(
        (FIXTURES / "seventeen_track" / "v24_colissimo_absent_then_pickup_point.json").read_bytes()
    )
    info = document["data"]["track_info"]
    for name in ("shipping_info", "milestone", "misc_info", "latest_event", "time_metrics"):
        info.pop(name, None)
    for provider in info["tracking"]["providers"]:
        for event in provider["events"]:
            for name in ("time_raw", "description_translation", "time_utc"):
                event.pop(name)
            event["address"].pop("coordinates")
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


async def test_a_signed_17track_push_updates_an_order_that_named_no_carrier(
    start_tracker: StartTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = secrets.token_hex(16)
    monkeypatch.setenv("TEST_17TRACK_SECURITY_KEY", key)
    tracker = await start_tracker(
        webhooks={
            "seventeen_track": CarrierWebhookAuth(
                scheme=WebhookScheme.SEVENTEEN_TRACK_SIGN,
                header="sign",
                secret=SecretRef(env="TEST_17TRACK_SECURITY_KEY"),
            )
        }
    )
    body = order_body(parcels=[("P-17", "CB305712448FR")])
    del body["parcels"][0]["carrier"]
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202, placed.text
    row = await until_substatus(tracker, "P-17", "pending_unspecified")
    assert row["carrier"] == "colissimo", "recognised from its UPU S10 number"

    push = _compact_push()
    sign = hashlib.sha256(push + b"/" + key.encode()).hexdigest()
    url = "/webhooks/carriers/17track"
    missing = await tracker.client.post(url, content=push)
    bad = await tracker.client.post(url, content=push, headers={"sign": "0" * 64})
    assert (missing.status_code, bad.status_code) == (401, 401)

    good = await tracker.client.post(url, content=push, headers={"sign": sign})

    assert good.status_code == 202, good.text
    await until_substatus(tracker, "P-17", "picked_up_at_pickup_point")
    recorded = await tracker.query("SELECT DISTINCT carrier FROM tracking_events")
    assert [r["carrier"] for r in recorded] == ["colissimo"]


async def test_held_events_expire_after_their_time_and_are_counted(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker(held_event_ttl_s=60, held_event_sweep_interval_s=0.2)
    for number in ("RLOLD0000001", "RLNEW0000001"):
        update = generic_for("dhl", number, "accepted_by_carrier")
        assert (await tracker.webhook(update)).status_code == 202

    async def held() -> Any:
        rows = await tracker.query("SELECT tracking_key FROM pending_tracking_events ORDER BY 1")
        return [r["tracking_key"] for r in rows] if len(rows) == 2 else None

    assert await eventually(held) == ["RLNEW0000001", "RLOLD0000001"]
    await tracker.query(
        "UPDATE pending_tracking_events SET received_at = received_at - interval '2 minutes'"
        " WHERE tracking_key = 'RLOLD0000001'"
    )

    async def expired() -> Any:
        rows = await tracker.query("SELECT tracking_key FROM pending_tracking_events")
        return [r["tracking_key"] for r in rows] if len(rows) == 1 else None

    assert await eventually(expired, timeout_s=20) == ["RLNEW0000001"]
    metrics = (await tracker.client.get("/metrics")).text
    assert 'relais_tracking_events_total{outcome="expired"}' in metrics


async def test_unmatched_events_say_why_and_unknown_codes_are_counted(
    start_tracker: StartTracker,
) -> None:
    tracker = await start_tracker()
    body = order_body(parcels=[("P-UPS", "1Z999AA10123456784")])
    body["parcels"][0]["carrier"] = "ups"
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202, placed.text
    await until_substatus(tracker, "P-UPS", "pending_unspecified")

    wrong_carrier = generic_for("dhl", "1Z999AA10123456784", "accepted_by_carrier")
    nobodys = generic_for("dhl", "RLNOBODY0001", "accepted_by_carrier")
    for update in (wrong_carrier, nobodys):
        assert (await tracker.webhook(update)).status_code == 202
    for hour in ("10", "11"):
        unknown = json.dumps(
            {
                "tracking_number": "1Z999AA10123456784",
                "carrier": "ups",
                "events": [
                    {
                        "occurred_at": f"2026-03-02T{hour}:00:00+01:00",
                        "carrier_code": "ZZ9",
                        "description": f"Scan at hub {hour}",
                    }
                ],
            }
        ).encode()
        assert (await tracker.webhook(unknown)).status_code == 202

    async def codes() -> Any:
        rows = await _with_connection(
            tracker, lambda c: repository.list_unknown_codes(c, carrier=None, limit=10)
        )
        return rows if rows and rows[0].seen == 2 else None

    [code] = await eventually(codes, timeout_s=20)
    assert (code.carrier, code.carrier_code, code.example) == ("generic", "ZZ9", "Scan at hub 11")

    held = await _with_connection(tracker, lambda c: repository.list_pending_events(c, limit=10))
    reasons = {
        row.tracking_key: why_held(
            carrier=row.carrier, merchant_id=row.merchant_id, parcels=row.parcels
        )
        for row in held
    }
    assert reasons == {
        "1Z999AA10123456784": (HeldReason.CARRIER_INCOMPATIBLE, ("ups",)),
        "RLNOBODY0001": (HeldReason.NO_ORDER, ()),
    }
