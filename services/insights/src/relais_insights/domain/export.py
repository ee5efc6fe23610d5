"""The report as CSV: one figure per row (section, dimension, key, value), so a
spreadsheet can pivot it; the header row is fixed and the rows come in report order."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

from relais_insights.domain.kpis import Report

HEADER = ("section", "dimension", "key", "value")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _flatten(section: str, dimension: str, value: Any) -> Iterator[tuple[str, str, str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _scalar(item):
                yield section, dimension, str(key), item
            else:
                yield from _flatten(section, f"{dimension}.{key}" if dimension else str(key), item)
    elif isinstance(value, list):
        for item in value:
            label = item.get("key") or item.get("stage") or item.get("day") or ""
            for key, sub in item.items():
                if key not in ("key", "stage", "day"):
                    yield section, f"{dimension}.{key}" if dimension else key, str(label), sub


def rows(report: Report) -> Iterator[tuple[str, str, str, Any]]:
    data = report.model_dump(mode="json", exclude={"merchant_id", "period"})
    for section, content in data.items():
        if section == "csat":
            content = {k: v for k, v in content.items() if k != "comments"}
        yield from _flatten(section, "", content)


def to_csv(report: Report) -> str:
    """Figures only: survey comments (personal data) stay on the dashboard."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ("merchant", report.merchant_id, "period", f"{report.period.start}..{report.period.end}")
    )
    writer.writerow(HEADER)
    for section, dimension, key, value in rows(report):
        writer.writerow((section, dimension, key, "" if value is None else value))
    return buffer.getvalue()
