"""The circuit breaker: opens after K failures, one trial after the cool-down, closes on success."""

from __future__ import annotations

from datetime import timedelta

from relais_actions.domain.breaker import BreakerBoard, BreakerState, CircuitBreaker
from tests.unit.actions.factories import NOW

COOL_DOWN = timedelta(seconds=60)


def breaker() -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, cool_down=COOL_DOWN)


def test_it_opens_after_k_consecutive_failures_only() -> None:
    board = breaker()
    board.record_failure(NOW)
    board.record_failure(NOW)
    board.record_success()
    board.record_failure(NOW)
    board.record_failure(NOW)
    assert board.state is BreakerState.CLOSED
    assert board.allow(NOW)
    board.record_failure(NOW)
    assert board.state is BreakerState.OPEN
    assert not board.allow(NOW + COOL_DOWN - timedelta(seconds=1))


def test_after_the_cool_down_one_trial_closes_it_on_success() -> None:
    board = breaker()
    for _ in range(3):
        board.record_failure(NOW)
    later = NOW + COOL_DOWN
    assert board.allow(later)
    assert board.state is BreakerState.HALF_OPEN
    assert not board.allow(later), "only one trial at a time"
    board.record_success()
    assert board.state is BreakerState.CLOSED
    assert board.allow(later)


def test_a_failed_trial_opens_it_for_another_cool_down() -> None:
    board = breaker()
    for _ in range(3):
        board.record_failure(NOW)
    trial = NOW + COOL_DOWN
    assert board.allow(trial)
    board.record_failure(trial)
    assert board.state is BreakerState.OPEN
    assert not board.allow(trial + COOL_DOWN / 2)
    assert board.allow(trial + COOL_DOWN)


def test_a_trial_never_reported_is_given_up_after_a_cool_down() -> None:
    board = breaker()
    for _ in range(3):
        board.record_failure(NOW)
    assert board.allow(NOW + COOL_DOWN)
    assert not board.allow(NOW + COOL_DOWN + COOL_DOWN / 2)
    assert board.allow(NOW + 2 * COOL_DOWN)


def test_each_merchant_endpoint_has_its_own_breaker() -> None:
    board = BreakerBoard()

    def get(merchant: str, url: str) -> CircuitBreaker:
        return board.for_endpoint(
            merchant_id=merchant, url=url, failure_threshold=1, cool_down=COOL_DOWN
        )

    get("shop-a", "https://a.example/hook").record_failure(NOW)
    assert not get("shop-a", "https://a.example/hook").allow(NOW)
    assert get("shop-b", "https://a.example/hook").allow(NOW)
    assert get("shop-a", "https://a.example/other").allow(NOW)
