"""Background passes: a capped, jittered backoff after transient failures, reset on success."""

from __future__ import annotations

import asyncio
import time

import pytest

from relais_runtime.passes import PassBackoff, pause


def test_the_backoff_doubles_up_to_its_cap_and_resets_after_a_good_pass() -> None:
    backoff = PassBackoff(loop="unit", initial_s=1.0, max_s=4.0)
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]
    for ceiling in ceilings:
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.failures == len(ceilings)
    backoff.succeeded()
    assert backoff.failures == 0
    assert 0.5 <= backoff.next_delay() <= 1.0


async def test_waiting_after_a_failure_logs_the_type_only_and_ends_early_on_stop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    backoff = PassBackoff(loop="unit-loop", initial_s=30.0, max_s=30.0)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    await backoff.wait_after(ConnectionRefusedError("camille@example.com refused"), stop)
    assert time.monotonic() - started < 5
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert "unit-loop" in text
    assert "ConnectionRefusedError" in text
    assert "camille" not in text


async def test_pause_waits_its_time_without_a_stop() -> None:
    started = time.monotonic()
    await pause(asyncio.Event(), 0.05)
    assert time.monotonic() - started >= 0.04
