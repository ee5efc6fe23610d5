"""One shared timeline for the whole corpus: inputs in time order, timers in between."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tests.corpus.stories import Input, Story, inputs


@dataclass(frozen=True)
class Step:
    at: datetime
    inputs: tuple[Input, ...]


def timeline(stories: Iterable[Story], *, run: str, through_tracker: bool = False) -> list[Step]:
    """Every story's inputs grouped by instant, in time order (stories interleave)."""
    by_time: dict[datetime, list[Input]] = {}
    for story in stories:
        for item in inputs(story, run=run, through_tracker=through_tracker):
            by_time.setdefault(item.at, []).append(item)
    return [Step(at, tuple(items)) for at, items in sorted(by_time.items())]
