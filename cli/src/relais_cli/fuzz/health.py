"""Whether the services survived: their /ready answers and the supervisor's metrics.

A loop counts as crashed when `relais_loop_restarts_total` grew for it during the run
(the supervisor restarted it) or when `relais_loop_up` is 0 at the end. The services of
a fuzz run share one process, hence one metrics registry: every /metrics lists every
service, told apart by the `service` label. Parsing is pure; the caller fetches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[str, ...]


def samples(text: str, metric: str, labels: tuple[str, ...]) -> dict[Labels, float]:
    """The values of `metric` (a counter's `_total` sample or a gauge), by label values."""
    found: dict[Labels, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != metric:
                continue
            key = tuple(sample.labels.get(name, "") for name in labels)
            found[key] = found.get(key, 0.0) + sample.value
    return found


def grown(before: Mapping[Labels, float], after: Mapping[Labels, float]) -> dict[Labels, float]:
    """What grew between two readings of a counter (new label sets count from 0)."""
    return {
        key: value - before.get(key, 0.0)
        for key, value in after.items()
        if value - before.get(key, 0.0) > 0
    }


@dataclass
class Survival:
    """The end state of one service."""

    service: str
    ready_status: int
    """HTTP status of /ready (0 when it did not answer)."""
    ready_body: str = ""
    restarted_loops: dict[str, float] = field(default_factory=dict)
    """Loop name -> restarts during the run."""
    down_loops: list[str] = field(default_factory=list)

    @property
    def crashed_loops(self) -> int:
        return len(set(self.restarted_loops) | set(self.down_loops))

    @property
    def ok(self) -> bool:
        return self.ready_status == 200 and self.crashed_loops == 0


def survival(
    service: str,
    *,
    ready_status: int,
    ready_body: str,
    metrics_before: str,
    metrics_after: str,
) -> Survival:
    labels = ("service", "loop")
    restarts = grown(
        samples(metrics_before, "relais_loop_restarts_total", labels),
        samples(metrics_after, "relais_loop_restarts_total", labels),
    )
    up = samples(metrics_after, "relais_loop_up", labels)
    return Survival(
        service=service,
        ready_status=ready_status,
        ready_body=ready_body[:1000],
        restarted_loops={
            loop: count for (name, loop), count in restarts.items() if name == service
        },
        down_loops=sorted(
            loop for (name, loop), value in up.items() if name == service and value == 0
        ),
    )


def consumed(text: str) -> dict[Labels, float]:
    """relais_messages_consumed_total by (group, topic, outcome)."""
    return samples(text, "relais_messages_consumed_total", ("group", "topic", "outcome"))
