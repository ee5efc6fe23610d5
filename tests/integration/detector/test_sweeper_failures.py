"""The sweeper on the real database when something fails: one bad shipment is postponed
and the others fire; an infrastructure failure ends the sweep with every timer still due,
and the background job backs off and carries on."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from relais_detector import domain, repository
from relais_detector.bootstrap import policy_book
from relais_detector.handlers import Detector
from relais_runtime.consumer import MessageContext
from tests.integration.conftest import eventually
from tests.integration.detector.conftest import MERCHANTS_DIR, DetectorHarness
from tests.integration.detector.test_timers import IN_TRANSIT, at, states

SHIPMENTS = 5


async def due_shipments(detector: DetectorHarness, prefix: str) -> list[str]:
    """SHIPMENTS accepted shipments whose next-scan timer is due at D3 12:00."""
    handler = Detector(
        clock=detector.clock, policies=policy_book(MERCHANTS_DIR), topics=detector.topics
    )
    detector.clock.set(at("D1 03:00"))
    async with detector.pool.acquire() as connection:
        for index in range(SHIPMENTS):
            for state in states(f"{prefix}{index}", events=IN_TRANSIT[:1]):
                async with connection.transaction():
                    await handler.on_shipment_state(
                        state, MessageContext(connection, "setup", 0, index, 1)
                    )
    detector.clock.set(at("D3 12:00"))
    return [f"{prefix}{index}.it" for index in range(SHIPMENTS)]


async def stalled(detector: DetectorHarness) -> set[str]:
    rows = await detector.pool.fetch(
        "SELECT shipment_id FROM anomalies WHERE anomaly_type = 'stalled'"
    )
    return {row["shipment_id"] for row in rows}


async def next_scan(detector: DetectorHarness, shipment_id: str) -> datetime:
    due: datetime = await detector.pool.fetchval(
        "SELECT due_at FROM timers WHERE shipment_id = $1 AND kind = 'next_scan'", shipment_id
    )
    return due


async def test_a_shipment_that_cannot_be_evaluated_is_postponed_and_the_others_fire(
    detector: DetectorHarness,
) -> None:
    shipments = await due_shipments(detector, "bad")
    broken = shipments[2]
    # Facts no version of the detector can read.
    await detector.pool.execute(
        "UPDATE shipments SET facts = '{\"unreadable\": true}' WHERE shipment_id = $1", broken
    )
    sweeper = detector.sweeper(batch_size=2)

    await sweeper.sweep_until_idle()

    assert await stalled(detector) == set(shipments) - {broken}
    assert sweeper.fired == SHIPMENTS - 1
    assert await next_scan(detector, broken) == at("D3 12:00") + timedelta(seconds=60)


async def test_an_infrastructure_failure_ends_the_sweep_with_every_timer_still_due(
    detector: DetectorHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipments = await due_shipments(detector, "down")
    due_before = {shipment: await next_scan(detector, shipment) for shipment in shipments}
    evaluate = domain.evaluate
    calls = 0

    def flaky(**arguments: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionResetError("the database went away")
        return evaluate(**arguments)

    monkeypatch.setattr(domain, "evaluate", flaky)
    sweeper = detector.sweeper()

    with pytest.raises(ConnectionResetError):
        await sweeper.sweep_once()
    assert await stalled(detector) == set(), "the whole sweep rolled back"
    assert {s: await next_scan(detector, s) for s in shipments} == due_before, "none postponed"

    await sweeper.sweep_until_idle()
    assert await stalled(detector) == set(shipments)


async def test_the_background_job_backs_off_on_outages_and_gives_other_errors_to_its_supervisor(
    detector: DetectorHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipments = await due_shipments(detector, "job")
    list_due = repository.list_due_timers
    outage = 2

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        nonlocal outage
        if outage:
            outage -= 1
            raise ConnectionRefusedError("connection refused")
        return await list_due(*args, **kwargs)

    monkeypatch.setattr(repository, "list_due_timers", unreachable)
    stop = asyncio.Event()
    job = asyncio.create_task(detector.sweeper().runner(interval_s=0.05)(stop))
    try:

        async def all_fired() -> bool:
            return await stalled(detector) == set(shipments)

        assert await eventually(all_fired, timeout_s=15, interval_s=0.05)
        assert outage == 0
        assert not job.done(), "an outage never ends the job"
    finally:
        stop.set()
        await asyncio.wait_for(job, timeout=10)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug, not one shipment's fault")

    monkeypatch.setattr(repository, "list_due_timers", broken)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(detector.sweeper().runner(interval_s=0.05)(asyncio.Event()), 10)
