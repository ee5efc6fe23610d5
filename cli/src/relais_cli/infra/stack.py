"""All components together: `up` and `down` run them concurrently, `status` reads them all.

A failing component does not stop the others: its outcome is FAILED with the reason.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from relais_cli.infra import base, kafka, postgres, smtp
from relais_cli.infra.base import Action, ComponentStatus, InfraError, Outcome, Reporter
from relais_cli.infra.paths import COMPONENTS
from relais_cli.infra.settings import InfraSettings


class Lifecycle(Protocol):
    def __call__(self, settings: InfraSettings, *, reporter: Reporter) -> Awaitable[Outcome]: ...


@dataclass(frozen=True)
class Component:
    up: Lifecycle
    down: Lifecycle
    status: Callable[[InfraSettings], Awaitable[ComponentStatus]]


REGISTRY: dict[str, Component] = {
    kafka.NAME: Component(up=kafka.up, down=kafka.down, status=kafka.status),
    postgres.NAME: Component(up=postgres.up, down=postgres.down, status=postgres.status),
    smtp.NAME: Component(up=smtp.up, down=smtp.down, status=smtp.status),
}


def select(only: str | None) -> tuple[str, ...]:
    """Component names from a comma-separated --only value (all when empty), in stack order."""
    if not only:
        return COMPONENTS
    wanted = {part.strip().lower() for part in only.split(",") if part.strip()}
    unknown = sorted(wanted - set(COMPONENTS))
    if unknown:
        known = ", ".join(COMPONENTS)
        raise InfraError(f"unknown component(s) {', '.join(unknown)}; known: {known}")
    return tuple(name for name in COMPONENTS if name in wanted)


async def _guarded(name: str, work: Awaitable[Outcome], *, reporter: Reporter) -> Outcome:
    """The outcome of `work`, or a FAILED outcome carrying the error's message.

    InfraError (expected) and OSError (permissions, disk) are reported; anything else is a
    bug and propagates with its traceback.
    """
    started = time.monotonic()
    try:
        outcome = await work
    except (InfraError, OSError) as error:
        outcome = base.timed_outcome(
            component=name, action=Action.FAILED, address="", started=started, detail=str(error)
        )
    reporter.finished(outcome)
    return outcome


async def up_all(
    settings: InfraSettings, *, names: Sequence[str], reporter: Reporter
) -> list[Outcome]:
    """Bring the named components up concurrently; outcomes in the order of `names`."""
    settings.paths.ensure()
    work = [
        _guarded(name, REGISTRY[name].up(settings, reporter=reporter), reporter=reporter)
        for name in names
    ]
    return list(await asyncio.gather(*work))


async def down_all(
    settings: InfraSettings, *, names: Sequence[str], reporter: Reporter
) -> list[Outcome]:
    """Stop what `up` started among the named components, concurrently."""
    work = [
        _guarded(name, REGISTRY[name].down(settings, reporter=reporter), reporter=reporter)
        for name in names
    ]
    return list(await asyncio.gather(*work))


async def status_all(settings: InfraSettings, *, names: Sequence[str]) -> list[ComponentStatus]:
    """The status of the named components, read concurrently."""
    return list(await asyncio.gather(*(REGISTRY[name].status(settings) for name in names)))


def purge(settings: InfraSettings) -> list[Path]:
    """Delete the state dir and the cluster `up` owns (call after `down_all` succeeded).

    The jar cache is kept. Returns the directories that were deleted.
    """
    doomed = [settings.paths.root, postgres.cluster_layout(settings).home]
    deleted = [path for path in dict.fromkeys(doomed) if path.exists() or path.is_symlink()]
    for path in deleted:
        shutil.rmtree(path)
    return deleted
