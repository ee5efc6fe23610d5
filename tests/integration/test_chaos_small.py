"""The small `relais chaos` run (docs/chaos.md): the six services as separate processes on
their own Kafka, PostgreSQL and SMTP catcher (never the shared ones), real traffic, one
fault of each kind; then nothing lost, nothing duplicated, every service ready."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from relais_cli.chaos.infra import default_state_dir
from relais_cli.chaos.plan import FaultKind, plan_run
from relais_cli.chaos.runner import run

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
def test_the_small_chaos_run_loses_nothing_duplicates_nothing_and_every_loop_lives(
    tmp_path: Path,
) -> None:
    plan = plan_run(seed=7, events=300, small=True)
    assert {fault.kind for fault in plan.faults} == set(FaultKind)

    result = run(
        plan,
        state_dir=default_state_dir(),
        output=tmp_path / "chaos",
        console=Console(stderr=True, force_terminal=False, width=120),
    )

    verification = result.verification
    broken = {
        check.name: check.examples
        for check in verification.checks
        if check.lost or check.duplicated
    }
    assert verification.lost == 0, broken
    assert verification.duplicated == 0, broken
    assert verification.loops_alive, (verification.ready, verification.loops_down)
    injected = result.report["recoveries"]
    assert [item["error"] for item in injected] == [None] * len(plan.faults)
    assert all(item["restored_at_s"] is not None for item in injected)
    assert result.report["traffic"]["carrier_calls"] >= 300
    assert result.report_path.is_file()
    assert result.plot_path.is_file()
