"""The pull clients' parts that need no server: credentials checked at start, the
Retry-After header, the token cache and the carrier limiter."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from relais_runtime.settings import ConfigurationError, load_settings
from relais_tracker.adapters.pull.config import PullCredentials, pull_carriers_of, rate_limit_of
from relais_tracker.adapters.pull.oauth import Grant, TokenAnswerInvalid, TokenCache, grant_of
from relais_tracker.adapters.pull.rate import CarrierLimiter, RateLimit, RateLimited, retry_after_s
from relais_tracker.settings import TrackerSettings

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def test_credentials_are_keyed_by_relais_carrier_code() -> None:
    checked = pull_carriers_of(
        {
            "laposte": PullCredentials(api_key="k"),
            "UPS": PullCredentials(client_id="id", client_secret="s"),
        }
    )
    assert set(checked) == {"colissimo", "ups"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"ups": {"client_id": "id"}}, "pull_carriers.ups.client_secret is required"),
        ({"fedex": {"client_secret": "s"}}, "pull_carriers.fedex.client_id is required"),
        ({"dhl": {}}, "pull_carriers.dhl.api_key is required"),
        ({"royal_mail": {"api_key": "k"}}, "pull_carriers.royal_mail: no pull client"),
        ({"laposte": {"api_key": "k"}, "colissimo": {"api_key": "k"}}, "configured twice"),
        ({"dhl": {"api_key": "k", "max_calls": 5}}, "max_calls and per_s go together"),
        ({"dhl": {"api_key": "k", "apikey": "typo"}}, "apikey"),
    ],
)
def test_bad_pull_credentials_stop_start_up_naming_the_field(
    value: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_PULL_CARRIERS", json.dumps(value))
    with pytest.raises(ConfigurationError, match="pull_carriers") as raised:
        load_settings(TrackerSettings)
    assert message in str(raised.value)


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "RELAIS_PULL_CARRIERS",
        '{"ups": {"client_id": "id", "client_secret": "s3cr3t-value"},'
        ' "dhl": {"api_key": "k3y-value"}}',
    )
    settings = load_settings(TrackerSettings)
    shown = repr(settings) + str(settings.model_dump())
    assert "s3cr3t-value" not in shown
    assert "k3y-value" not in shown


def test_a_configured_rate_limit_replaces_the_documented_one() -> None:
    documented = rate_limit_of("dhl", PullCredentials(api_key="k"))
    assert documented == RateLimit(calls=1, period_s=1.0, daily_quota=250)
    contract = PullCredentials(api_key="k", max_calls=10, per_s=1, daily_quota=50_000)
    assert rate_limit_of("dhl", contract) == RateLimit(calls=10, period_s=1.0, daily_quota=50_000)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_s("7", now=NOW) == 7.0
    assert retry_after_s("Tue, 10 Mar 2026 09:31:00 GMT", now=NOW) == 60.0
    assert retry_after_s("Tue, 10 Mar 2026 09:00:00 GMT", now=NOW) == 0.0
    assert retry_after_s(None, now=NOW) is None
    assert retry_after_s("soon", now=NOW) is None


def test_a_token_answer_is_read_whatever_the_type_of_expires_in() -> None:
    assert grant_of({"access_token": "t", "expires_in": "14399"}) == Grant("t", 14399.0)
    assert grant_of({"access_token": "t", "expires_in": 3599}) == Grant("t", 3599.0)
    bad_answers: list[object] = [
        {"expires_in": 1},
        {"access_token": "t"},
        {"access_token": "t", "expires_in": "x"},
        [],
    ]
    for bad in bad_answers:
        with pytest.raises(TokenAnswerInvalid):
            grant_of(bad)


async def test_a_token_is_reused_until_shortly_before_it_expires() -> None:
    clock = [0.0]
    issued: list[str] = []

    async def fetch() -> Grant:
        issued.append(f"token-{len(issued) + 1}")
        await asyncio.sleep(0)
        return Grant(issued[-1], 3600.0)

    cache = TokenCache(fetch, max_margin_s=600.0, monotonic=lambda: clock[0])
    tokens = await asyncio.gather(*(cache.get() for _ in range(5)))
    assert tokens == ["token-1"] * 5, "one request for concurrent callers"
    clock[0] = 3600 - 361  # a tenth of an hour (360 s) is the margin
    assert await cache.get() == "token-1"
    clock[0] = 3600 - 359
    assert await cache.get() == "token-2"
    cache.invalidate("token-1")  # an old token answered 401: the current one stays
    assert await cache.get() == "token-2"
    cache.invalidate("token-2")
    assert await cache.get() == "token-3"


async def test_a_long_pause_or_a_spent_quota_fails_at_once() -> None:
    clock = [100.0]
    limiter = CarrierLimiter(
        "dhl",
        RateLimit(calls=100, period_s=1.0, daily_quota=2),
        max_wait_s=5.0,
        monotonic=lambda: clock[0],
        wall=lambda: NOW,
    )
    await limiter.acquire()
    limiter.pause(3600)
    with pytest.raises(RateLimited, match="paused by the carrier"):
        await limiter.acquire()
    clock[0] += 3600
    await limiter.acquire()  # the refused try did not count
    with pytest.raises(RateLimited, match="daily quota of 2 calls spent") as raised:
        await limiter.acquire()
    assert raised.value.wait_s == pytest.approx(14.5 * 3600)
