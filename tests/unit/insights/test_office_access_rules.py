"""The back office's access rules without a database: role order, CSRF tokens,
throttling arithmetic, API key scopes (legacy keys keep orders and insights)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relais_cli.merchant_cmd import add_key
from relais_insights.domain.office import (
    ACCOUNT_POLICY,
    Role,
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    csrf_matches,
    csrf_token_for,
)
from relais_runtime.api_keys import ApiKeyRing, api_key_sha256
from relais_runtime.merchants import load_merchant_file
from relais_runtime.merchants.tracking import LEGACY_SCOPES, ApiKey, ApiScope
from tests.conftest import REPO_ROOT

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.AGENT, False),
        (Role.AGENT, Role.VIEWER, True),
        (Role.AGENT, Role.ADMIN, False),
        (Role.ADMIN, Role.AGENT, True),
        (Role.ADMIN, Role.ADMIN, True),
    ],
)
def test_roles_are_ordered_viewer_agent_admin(role: Role, needed: Role, allowed: bool) -> None:
    assert role.allows(needed) is allowed


def test_a_csrf_token_is_tied_to_its_session_and_reveals_nothing_of_it() -> None:
    token = csrf_token_for("session-one")
    assert token == csrf_token_for("session-one")
    assert token != csrf_token_for("session-two")
    assert "session-one" not in token
    assert len(token) == 64
    assert csrf_matches(token, token)
    assert not csrf_matches(token, csrf_token_for("session-two"))
    assert not csrf_matches(token, "")
    assert not csrf_matches(token, None)
    assert not csrf_matches(token, token[:-1])


def failures(count: int, policy: ThrottlePolicy, *, every: timedelta) -> ThrottleState:
    state = None
    for n in range(count):
        state = after_failure(state, NOW + every * n, policy)
    assert state is not None
    return state


def test_four_failures_do_not_block_the_fifth_blocks_for_30_seconds() -> None:
    four = failures(4, ACCOUNT_POLICY, every=timedelta(seconds=1))
    assert four.retry_after(NOW + timedelta(seconds=4)) is None
    five = after_failure(four, NOW + timedelta(seconds=4), ACCOUNT_POLICY)
    assert five.retry_after(NOW + timedelta(seconds=4)) == 30
    assert five.retry_after(NOW + timedelta(seconds=34)) is None


def test_each_further_failure_doubles_the_block_up_to_the_cap() -> None:
    policy = ACCOUNT_POLICY
    blocks = [policy.block_after(n) for n in range(4, 12)]
    assert blocks == [
        None,
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=240),
        timedelta(seconds=480),
        timedelta(minutes=15),
        timedelta(minutes=15),
    ]
    assert policy.block_after(10_000) == timedelta(minutes=15)


def test_a_window_that_is_over_and_not_blocked_starts_again() -> None:
    four = failures(4, ACCOUNT_POLICY, every=timedelta(minutes=1))
    later = NOW + timedelta(minutes=16)
    fresh = after_failure(four, later, ACCOUNT_POLICY)
    assert fresh.failures == 1
    assert fresh.window_started_at == later
    assert fresh.retry_after(later) is None


def test_a_failure_while_blocked_keeps_counting_in_the_window() -> None:
    five = failures(5, ACCOUNT_POLICY, every=timedelta(minutes=3))
    assert five.blocked_until is not None
    sixth = after_failure(five, five.blocked_until - timedelta(seconds=1), ACCOUNT_POLICY)
    assert sixth.failures == 6
    assert sixth.window_started_at == NOW


def test_keys_without_scopes_keep_orders_and_insights() -> None:
    legacy = ApiKey(id="old", sha256="a" * 64)
    scoped = ApiKey(id="office", sha256="b" * 64, scopes=(ApiScope.BACKOFFICE,))
    assert legacy.granted == LEGACY_SCOPES == {ApiScope.ORDERS, ApiScope.INSIGHTS}
    assert scoped.granted == {ApiScope.BACKOFFICE}
    with pytest.raises(ValueError, match="scopes"):
        ApiKey(id="none", sha256="c" * 64, scopes=())
    with pytest.raises(ValueError, match="scopes"):
        ApiKey.model_validate({"id": "bad", "sha256": "d" * 64, "scopes": ["admin"]})


def test_the_key_ring_tells_a_keys_merchant_and_scopes() -> None:
    ring = ApiKeyRing(
        merchants_by_hash={api_key_sha256("k1"): "shop"},
    )
    holder = ring.holder_of_header("Bearer k1")
    assert holder is not None
    assert holder.merchant_id == "shop"
    assert holder.scopes == LEGACY_SCOPES
    assert ring.holder_of_header("Basic k1") is None
    assert ring.scopes_of("unknown") == frozenset()


def test_add_key_with_scopes_keeps_the_file_and_the_scopes(tmp_path: Path) -> None:
    shutil.copy(Path(REPO_ROOT) / "deploy" / "merchants" / "velocity-sports.yaml", tmp_path)
    before = (tmp_path / "velocity-sports.yaml").read_text()
    added = add_key(
        tmp_path,
        "velocity-sports",
        key_id="office",
        scopes=(ApiScope.BACKOFFICE, ApiScope.INSIGHTS),
    )
    assert added.comments_kept
    after = (tmp_path / "velocity-sports.yaml").read_text()
    assert [line for line in before.splitlines() if line.lstrip().startswith("#")] == [
        line for line in after.splitlines() if line.lstrip().startswith("#")
    ]
    config = load_merchant_file(tmp_path / "velocity-sports.yaml")
    office = next(key for key in config.tracking.api_keys if key.id == "office")
    assert office.granted == {ApiScope.BACKOFFICE, ApiScope.INSIGHTS}
    ring = ApiKeyRing.of({"velocity-sports": config})
    assert ring.scopes_of(added.key) == {ApiScope.BACKOFFICE, ApiScope.INSIGHTS}
