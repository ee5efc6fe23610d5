"""The supervisor: no loop dies silently, stalls and waits are visible to readiness."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiokafka import errors as kafka_errors
from prometheus_client import REGISTRY

from relais_runtime.failures import FailureKind, NotYetError, PermanentError, classify
from relais_runtime.supervisor import Loop, RestartBackoff, Supervisor, beat

FAST = RestartBackoff(initial_s=0.01, max_s=0.02)


def restarts(service: str, loop: str) -> float:
    value = REGISTRY.get_sample_value(
        "relais_loop_restarts_total", {"service": service, "loop": loop}
    )
    return value or 0.0


async def test_a_crashing_loop_is_logged_restarted_and_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    supervisor = Supervisor(service="unit-crash", backoff=FAST)
    stop = asyncio.Event()
    runs: list[int] = []

    async def crashes_twice(stop: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise ValueError("a row with a newline in a header")
        await stop.wait()

    task = supervisor.start(Loop("dispatcher", crashes_twice), stop)
    for _ in range(200):
        if len(runs) == 3:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task

    assert len(runs) == 3
    assert restarts("unit-crash", "dispatcher") == 2
    assert supervisor.states()["dispatcher"].restarts == 2
    logged = capsys.readouterr()
    assert "background loop crashed" in logged.out + logged.err
    assert "ValueError" in logged.out + logged.err
    assert "newline in a header" not in logged.out + logged.err, "messages may hold personal data"


async def test_a_loop_that_returns_before_stop_counts_as_a_crash() -> None:
    supervisor = Supervisor(service="unit-return", backoff=FAST)
    stop = asyncio.Event()
    runs: list[int] = []

    async def returns(stop: asyncio.Event) -> None:
        runs.append(1)
        if len(runs) >= 2:
            await stop.wait()

    task = supervisor.start(Loop("sweeper", returns), stop)
    for _ in range(200):
        if len(runs) == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert restarts("unit-return", "sweeper") == 1


async def test_a_dead_loop_makes_readiness_fail_until_it_runs_again() -> None:
    supervisor = Supervisor(service="unit-dead", backoff=RestartBackoff(initial_s=5, max_s=5))
    stop = asyncio.Event()

    async def dies(stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    task = supervisor.start(Loop("relay", dies), stop)
    await asyncio.sleep(0.05)
    assert not await supervisor.is_ready()
    assert "dead (RuntimeError)" in supervisor.problems()["relay"]
    stop.set()
    await task


async def test_a_loop_without_progress_past_its_heartbeat_is_stalled() -> None:
    supervisor = Supervisor(service="unit-stall", backoff=FAST)
    stop = asyncio.Event()
    keep_beating = asyncio.Event()
    keep_beating.set()

    async def beats_while_allowed(stop: asyncio.Event) -> None:
        while not stop.is_set():
            if keep_beating.is_set():
                beat()
            await asyncio.sleep(0.01)

    task = supervisor.start(Loop("consumer", beats_while_allowed, heartbeat_s=0.1), stop)
    await asyncio.sleep(0.2)
    assert await supervisor.is_ready()
    keep_beating.clear()
    await asyncio.sleep(0.25)
    assert "no progress" in supervisor.problems()["consumer"]
    keep_beating.set()
    await asyncio.sleep(0.05)
    assert await supervisor.is_ready()
    stop.set()
    await task


async def test_waiting_on_the_infrastructure_is_not_ready_until_cleared() -> None:
    supervisor = Supervisor(service="unit-wait")
    with supervisor.waiting("consumer tracker.orders", "CannotConnectNowError"):
        assert supervisor.problems() == {
            "consumer tracker.orders": "waiting: CannotConnectNowError"
        }
        assert not await supervisor.is_ready()
    assert await supervisor.is_ready()


def test_the_same_loop_cannot_be_supervised_twice() -> None:
    supervisor = Supervisor(service="unit-twice")
    loop = Loop("relay", lambda stop: stop.wait())

    async def start_twice() -> None:
        stop = asyncio.Event()
        task = supervisor.start(loop, stop)
        try:
            with pytest.raises(ValueError, match="already supervised"):
                supervisor.start(loop, stop)
        finally:
            stop.set()
            await task

    asyncio.run(start_twice())


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
            "transient",
        ),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), "transient"),
        (asyncpg.exceptions.TooManyConnectionsError("too many clients"), "transient"),
        (asyncpg.exceptions.SerializationError("could not serialize"), "transient"),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), "transient"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), "transient"),
        (ConnectionRefusedError(111, "refused"), "transient"),
        (asyncpg.exceptions.InternalClientError("cannot switch to state 15"), "transient"),
        (TimeoutError(), "transient"),
        (kafka_errors.KafkaConnectionError(), "transient"),
        (kafka_errors.NotLeaderForPartitionError(), "transient"),
        (kafka_errors.RequestTimedOutError(), "transient"),
        (NotYetError("snapshot"), "not_yet"),
        (asyncpg.exceptions.DataError("invalid input for query argument"), "permanent"),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), "permanent"),
        (PermanentError("unknown merchant"), "permanent"),
        (ValueError("header with a newline"), "permanent"),
        (kafka_errors.MessageSizeTooLargeError(), "permanent"),
    ],
)
def test_failures_are_classified_once(error: BaseException, kind: str) -> None:
    assert classify(error) is FailureKind(kind)
