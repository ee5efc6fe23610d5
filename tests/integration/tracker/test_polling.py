"""Polling a pull-only carrier API: a real HTTP server on loopback plays the carrier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from aiolimiter import AsyncLimiter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relais_contracts.topics import carrier_updates
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived, UpdateSource
from relais_tracker.adapters.carrier_poller import HttpCarrierPoller, PollError, PollRetry
from tests.integration.conftest import eventually
from tests.integration.tracker.conftest import (
    StartTracker,
    free_port,
    generic_payload,
    order_body,
)

DELIVERED_TN, UNKNOWN_TN, FLAKY_TN, DOWN_TN, UNTYPED_TN = (
    "RLPOLL00001",
    "RLPOLL00002",
    "RLPOLL00003",
    "RLDOWN00004",
    "RLPOLL00005",
)


@dataclass
class CarrierApi:
    """GET /track/<carrier>/<number>: 503 on the first call for FLAKY_TN and always for
    DOWN_TN, 404 for UNKNOWN_TN, an empty Content-Type for UNTYPED_TN (no valid
    CarrierUpdateReceived can carry it), else a delivered generic payload."""

    base_url: str = ""
    calls: list[tuple[str, float]] = field(default_factory=list)

    def count(self, number: str) -> int:
        return sum(1 for called, _ in self.calls if called == number)

    async def track(self, request: Request) -> Response:
        number = request.path_params["number"]
        self.calls.append((number, time.monotonic()))
        if number == DOWN_TN or (number == FLAKY_TN and self.count(number) == 1):
            return Response(status_code=503)
        if number == UNKNOWN_TN:
            return Response(status_code=404)
        if number == UNTYPED_TN:
            return Response(b"{}", headers={"content-type": ""})
        body = generic_payload(
            number,
            ("2026-03-02T10:00:00+01:00", "accepted_by_carrier", "PU"),
            ("2026-03-03T11:00:00+01:00", "delivered_to_recipient", "DL"),
        )
        return Response(body, media_type="application/json")


@pytest.fixture
async def carrier_api() -> AsyncIterator[CarrierApi]:
    api = CarrierApi()
    app = Starlette(routes=[Route("/track/{carrier}/{number}", api.track)])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError("the test carrier API did not start")
    api.base_url = f"http://127.0.0.1:{port}/track"
    yield api
    server.should_exit = True
    await task


def poller(api: CarrierApi, *, rate: float = 100.0, attempts: int = 3) -> HttpCarrierPoller:
    return HttpCarrierPoller(
        client=httpx.AsyncClient(timeout=5),
        base_url=api.base_url,
        limiter=AsyncLimiter(max_rate=rate, time_period=1.0),
        retry=PollRetry(max_attempts=attempts, backoff_initial_s=0.05, backoff_max_s=0.2),
    )


async def test_the_poller_retries_with_backoff_and_says_when_nothing_is_known(
    carrier_api: CarrierApi,
) -> None:
    client = poller(carrier_api)
    try:
        fetched = await client.fetch(carrier="generic", tracking_number=FLAKY_TN)
        assert fetched is not None
        assert fetched.content_type == "application/json"
        assert FLAKY_TN.encode() in fetched.body
        assert carrier_api.count(FLAKY_TN) == 2, "one 503, then retried"
        assert await client.fetch(carrier="generic", tracking_number=UNKNOWN_TN) is None
        with pytest.raises(PollError, match="RetryableStatus"):
            await client.fetch(carrier="generic", tracking_number=DOWN_TN)
        assert carrier_api.count(DOWN_TN) == 3, "gave up after max_attempts"
    finally:
        await client.aclose()


async def test_the_poller_is_rate_limited(carrier_api: CarrierApi) -> None:
    client = poller(carrier_api, rate=5.0)
    try:
        started = time.monotonic()
        await asyncio.gather(
            *(client.fetch(carrier="generic", tracking_number=f"RLRATE{i:05d}") for i in range(10))
        )
        elapsed = time.monotonic() - started
    finally:
        await client.aclose()
    # 5 per second with a bucket of 5: the last 5 calls wait about 0.2 s each.
    assert elapsed >= 0.8
    assert len(carrier_api.calls) == 10


async def test_only_shipments_that_are_not_final_are_polled(
    start_tracker: StartTracker, carrier_api: CarrierApi
) -> None:
    tracker = await start_tracker(
        poll_base_url=carrier_api.base_url,
        poll_carriers=("generic",),
        poll_interval_s=0.3,
        poll_backoff_initial_s=0.05,
        poll_rate_per_s=50.0,
    )
    body = order_body(parcels=[("P-1", FLAKY_TN), ("P-2", UNKNOWN_TN), ("P-3", None)])
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202

    async def delivered() -> Any:
        rows = await tracker.query(
            "SELECT final FROM shipments WHERE shipment_id = 'P-1' AND status = 'delivered'"
        )
        return rows or None

    assert await eventually(delivered, timeout_s=20)
    polls_when_final = carrier_api.count(FLAKY_TN)
    unknown_polls = carrier_api.count(UNKNOWN_TN)
    await asyncio.sleep(1.5)
    assert carrier_api.count(FLAKY_TN) == polls_when_final, "a final shipment is not polled"
    assert carrier_api.count(UNKNOWN_TN) > unknown_polls, "a non-final one is polled again"
    assert {number for number, _ in carrier_api.calls} == {FLAKY_TN, UNKNOWN_TN}

    records = await tracker.read(carrier_updates.TOPIC.name, until=lambda got: len(got) >= 1)
    updates = [carrier_updates.TOPIC.decode(r.value or b"") for r in records]
    assert all(isinstance(u, CarrierUpdateReceived) for u in updates)
    assert {(u.source, u.merchant_id, u.tracking_number) for u in updates} == {  # type: ignore[attr-defined]
        (UpdateSource.POLL, "shop-a", FLAKY_TN)
    }


async def test_a_shipment_whose_poll_cannot_be_handled_never_blocks_the_others(
    start_tracker: StartTracker, carrier_api: CarrierApi
) -> None:
    tracker = await start_tracker(
        poll_base_url=carrier_api.base_url,
        poll_carriers=("generic",),
        poll_interval_s=0.5,
        poll_backoff_initial_s=0.05,
        poll_rate_per_s=50.0,
        poll_batch=1,
    )
    body = order_body(parcels=[("P-1", UNTYPED_TN), ("P-2", DELIVERED_TN)])
    placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
    assert placed.status_code == 202

    async def delivered() -> Any:
        rows = await tracker.query(
            "SELECT final FROM shipments WHERE shipment_id = 'P-2' AND status = 'delivered'"
        )
        return rows or None

    assert await eventually(delivered, timeout_s=20)

    async def polled_again() -> bool:
        return carrier_api.count(UNTYPED_TN) >= 2

    assert await eventually(polled_again, timeout_s=10), "tried again at the next interval"
    [bad] = await tracker.query("SELECT polled_at, final FROM shipments WHERE shipment_id = 'P-1'")
    assert bad["polled_at"] is not None
    assert not bad["final"]
    records = await tracker.read(carrier_updates.TOPIC.name, until=lambda got: len(got) >= 1)
    updates = [carrier_updates.TOPIC.decode(r.value or b"") for r in records]
    assert {u.tracking_number for u in updates} == {DELIVERED_TN}  # type: ignore[attr-defined]
