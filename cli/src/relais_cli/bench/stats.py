"""Latency percentiles of the benchmarks (nearest rank on the sorted values)."""

from __future__ import annotations

import math
from dataclasses import dataclass

PERCENTILES = (0.50, 0.90, 0.99)


def percentile(values: list[float], fraction: float) -> float:
    """The smallest value with at least `fraction` of the values at or below it
    (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return ordered[min(len(ordered), rank) - 1]


@dataclass(frozen=True)
class Spread:
    """p50, p90, p99 and max of one set of latencies (same unit as the input)."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(
            count=len(values),
            p50=percentile(values, 0.50),
            p90=percentile(values, 0.90),
            p99=percentile(values, 0.99),
            max=max(values) if values else float("nan"),
        )


def verdict(met: bool) -> str:
    return "[green]met[/green]" if met else "[red]missed[/red]"
