"""`relais infra` up/status/down of a background component, on a private state dir and port.

The SMTP catcher stands for every component `up` runs as one background process: the rules
(ours only by pid file and command line, someone else's listener left alone) are shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relais_cli.infra import smtp
from relais_cli.infra.base import Action, SilentReporter
from relais_cli.infra.settings import InfraSettings
from tests.conftest import free_port


@pytest.fixture
def settings(tmp_path: Path) -> InfraSettings:
    return InfraSettings(state_dir=tmp_path / "state", smtp_port=free_port())


@pytest.fixture
async def foreign_listener(settings: InfraSettings) -> AsyncIterator[None]:
    """Something not started by relais accepting connections on the SMTP port."""
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", settings.smtp_port)
    yield
    server.close()
    await server.wait_closed()


async def test_up_status_down_of_a_process_up_started(settings: InfraSettings) -> None:
    reporter = SilentReporter()
    started = await smtp.up(settings, reporter=reporter)
    try:
        assert started.action is Action.STARTED, started
        again = await smtp.up(settings, reporter=reporter)
        assert again.action is Action.RUNNING
        assert again.detail == started.detail
        row = await smtp.status(settings)
        assert (row.up, row.owner, row.pid) == (True, "relais", int(started.detail.split()[1]))
        assert row.log == str(settings.paths.log("smtp"))
        assert row.address == f"127.0.0.1:{settings.smtp_port}"
    finally:
        stopped = await smtp.down(settings, reporter=reporter)
    assert stopped.action is Action.STOPPED
    assert not settings.paths.pid("smtp").exists()
    row = await smtp.status(settings)
    assert (row.up, row.owner, row.pid) == (False, "-", None)
    assert (await smtp.down(settings, reporter=reporter)).action is Action.NOT_RUNNING


@pytest.mark.usefixtures("foreign_listener")
async def test_a_listener_not_started_by_relais_is_used_and_left_alone(
    settings: InfraSettings,
) -> None:
    reporter = SilentReporter()
    assert (await smtp.up(settings, reporter=reporter)).action is Action.EXTERNAL
    row = await smtp.status(settings)
    assert (row.up, row.owner, row.pid, row.log) == (True, "external", None, "(not ours)")
    assert (await smtp.down(settings, reporter=reporter)).action is Action.NOT_OURS
