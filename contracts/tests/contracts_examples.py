"""Every example message of every topic, and a fixture over them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from relais_contracts.registry import Topic
from relais_contracts.topics import ALL_TOPICS


@dataclass(frozen=True)
class Example:
    topic: Topic
    path: Path

    @property
    def raw(self) -> bytes:
        return self.path.read_bytes()

    @property
    def data(self) -> dict[str, Any]:
        loaded = json.loads(self.raw)
        assert isinstance(loaded, dict)
        return loaded

    @property
    def event_type(self) -> str:
        return self.path.stem.split("-", 1)[0]


def all_examples() -> list[Example]:
    return [
        Example(topic, path)
        for topic in ALL_TOPICS
        for path in sorted(topic.examples_dir().glob("*.json"))
    ]


EXAMPLES = all_examples()


@pytest.fixture(params=EXAMPLES, ids=lambda e: f"{e.topic.name}/{e.path.name}")
def example(request: pytest.FixtureRequest) -> Example:
    return request.param  # type: ignore[no-any-return]
