"""The figures of a chaos run: recovery after each fault, a JSON report, a PNG plot, tables.

Recovery: a fault ends when its component answers again (a killed service: its new
process answers /health; Kafka: a metadata request; PostgreSQL: a connection; SMTP: a
TCP connection). The pipeline flows again at the first one-second sample after that
where the output that component is responsible for grew (SIGNALS): new tracking events
for the tracker, new anomalies for the detector, new emails for the notifier and the
SMTP catcher, anything downstream for Kafka and PostgreSQL... `recovery_s` is the time
from the end of the fault to that sample; `since_fault_s` counts from the fault itself.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from relais_cli.chaos.faults import FaultRecord
from relais_cli.chaos.plan import ChaosPlan, FaultKind
from relais_cli.chaos.sampler import Sample
from relais_cli.chaos.verify import Verification

DOWNSTREAM = (
    "relais.tracking-events.v1",
    "relais.shipment-state.v1",
    "relais.anomalies.v1",
    "relais.notifications.v1",
    "relais.action-results.v1",
    "mails",
    "actions",
)
SIGNALS: dict[str, tuple[str, ...]] = {
    "tracker": ("relais.tracking-events.v1", "relais.shipment-state.v1"),
    "detector": ("relais.anomalies.v1",),
    "notifier": ("mails", "relais.notifications.v1"),
    "chat": ("relais.conversations.v1", "ready:chat"),
    "actions": ("actions", "relais.action-results.v1"),
    "insights": ("ready:insights",),
    "kafka": DOWNSTREAM,
    "postgres": DOWNSTREAM,
    "smtp": ("mails",),
}


def signal(sample: Sample, keys: tuple[str, ...]) -> float | None:
    """The sum of the series `keys` in one sample (None when a topic was unreadable)."""
    total = 0.0
    for key in keys:
        if key == "mails":
            total += sample.mails
        elif key == "actions":
            total += sample.actions
        elif key.startswith("ready:"):
            total += 1 if sample.ready.get(key.split(":", 1)[1]) == 200 else 0
        elif sample.topics is None:
            return None
        else:
            total += sample.topics.get(key, 0)
    return total


@dataclass(frozen=True)
class Recovery:
    fault: str
    kind: str
    target: str
    started_at_s: float | None
    restored_at_s: float | None
    flowing_at_s: float | None
    recovery_s: float | None
    """From the end of the fault to the first sample showing new output."""
    since_fault_s: float | None
    error: str | None


def recoveries(records: list[FaultRecord], samples: list[Sample]) -> list[Recovery]:
    found = []
    for record in records:
        fault = record.fault
        keys = SIGNALS.get(fault.target, DOWNSTREAM)
        flowing = None
        if record.restored_at_s is not None:
            readiness = any(key.startswith("ready:") for key in keys)
            baseline = None
            for sample in samples:
                value = signal(sample, keys)
                if sample.at_s <= record.restored_at_s:
                    if value is not None:
                        baseline = value
                    continue
                if value is None:
                    continue
                grew = baseline is not None and value > baseline
                if grew or (readiness and value > 0 and sample.at_s > record.restored_at_s):
                    flowing = sample.at_s
                    break
                if baseline is None:
                    baseline = value
        found.append(
            Recovery(
                fault=fault.label,
                kind=fault.kind.value,
                target=fault.target,
                started_at_s=record.started_at_s,
                restored_at_s=record.restored_at_s,
                flowing_at_s=flowing,
                recovery_s=None
                if flowing is None or record.restored_at_s is None
                else round(max(0.0, flowing - record.restored_at_s), 1),
                since_fault_s=None
                if flowing is None or record.started_at_s is None
                else round(flowing - record.started_at_s, 1),
                error=record.error,
            )
        )
    return found


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")


def build_report(
    *,
    plan: ChaosPlan,
    verification: Verification,
    recovered: list[Recovery],
    samples: list[Sample],
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "seed": plan.seed,
        "small": plan.small,
        "passed": verification.passed,
        "lost": verification.lost,
        "duplicated": verification.duplicated,
        "loops_alive": verification.loops_alive,
        "plan": {
            "events_target": plan.events_target,
            "orders": plan.orders,
            "traffic_s": plan.traffic_s,
            "faults": [asdict(fault) for fault in plan.faults],
        },
        "checks": [asdict(check) for check in verification.checks],
        "ready_at_end": verification.ready,
        "loop_restarts_total": verification.loop_restarts,
        "loops_down_at_end": verification.loops_down,
        "recoveries": [asdict(recovery) for recovery in recovered],
        "samples": [asdict(sample) for sample in samples],
        **extra,
    }


COLORS = {
    FaultKind.KILL_SERVICE.value: "tab:red",
    FaultKind.KILL_KAFKA.value: "tab:purple",
    FaultKind.KILL_POSTGRES.value: "tab:brown",
    FaultKind.SMTP_DOWN.value: "tab:orange",
}


def _rate(samples: list[Sample], values: list[float | None]) -> tuple[list[float], list[float]]:
    """Per-second increase of a cumulative series (gaps where it was unreadable)."""
    xs, ys, previous = [], [], None
    for sample, value in zip(samples, values, strict=True):
        if value is None:
            previous = None
            continue
        if previous is not None:
            span = max(0.1, sample.at_s - previous[0])
            xs.append(sample.at_s)
            ys.append(max(0.0, (value - previous[1]) / span))
        previous = (sample.at_s, value)
    return xs, ys


def plot(path: Path, *, samples: list[Sample], recovered: list[Recovery], title: str) -> None:
    from relais_cli.plots import pyplot

    plt = pyplot()

    series: dict[str, list[float | None]] = {
        "carrier + order calls accepted": [float(s.accepted_calls) for s in samples],
        "tracking events published": [signal(s, ("relais.tracking-events.v1",)) for s in samples],
        "anomaly topic messages": [signal(s, ("relais.anomalies.v1",)) for s in samples],
        "emails received": [float(s.mails) for s in samples],
        "merchant actions": [float(s.actions) for s in samples],
    }
    figure, axes = plt.subplots(len(series), 1, figsize=(12, 2.0 * len(series)), sharex=True)
    for axis, (name, values) in zip(axes, series.items(), strict=True):
        xs, ys = _rate(samples, values)
        axis.plot(xs, ys, linewidth=1.0, color="tab:blue")
        axis.set_ylabel("per s")
        axis.set_title(name, fontsize=9, loc="left")
        for recovery in recovered:
            if recovery.started_at_s is None:
                continue
            end = recovery.restored_at_s or recovery.started_at_s
            axis.axvspan(
                recovery.started_at_s,
                max(end, recovery.started_at_s + 0.5),
                color=COLORS.get(recovery.kind, "grey"),
                alpha=0.25,
            )
            if recovery.flowing_at_s is not None:
                axis.axvline(recovery.flowing_at_s, color="tab:green", linewidth=0.6, alpha=0.6)
    for recovery in recovered:
        if recovery.started_at_s is not None:
            axes[0].annotate(
                f"{recovery.kind.replace('_', ' ')}\n{recovery.target}",
                (recovery.started_at_s, 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                va="bottom",
                rotation=0,
            )
    axes[-1].set_xlabel(
        "seconds since the run started (shaded: fault until its component "
        "answers again; green line: output flows again)"
    )
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def show(console: Console, *, verification: Verification, recovered: list[Recovery]) -> None:
    checks = Table(title="Verification (from the outside, after the pipeline settled)")
    for column in ("check", "expected", "ok", "lost", "duplicated"):
        checks.add_column(column, justify="left" if column == "check" else "right")
    for check in verification.checks:
        checks.add_row(
            check.name,
            str(check.expected),
            str(check.ok),
            f"[red]{check.lost}[/]" if check.lost else "0",
            f"[red]{check.duplicated}[/]" if check.duplicated else "0",
        )
    console.print(checks)
    for check in verification.checks:
        for example in check.examples[:4]:
            console.print(f"  [dim]{check.name}:[/] {example}", highlight=False)
    faults = Table(title="Faults and recovery (seconds since the run started)")
    for column in ("fault", "down at", "back at", "flowing at", "recovery s", "since fault s"):
        faults.add_column(column, justify="left" if column == "fault" else "right")

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    for recovery in recovered:
        faults.add_row(
            recovery.fault + (f" [red]({recovery.error})[/]" if recovery.error else ""),
            fmt(recovery.started_at_s),
            fmt(recovery.restored_at_s),
            fmt(recovery.flowing_at_s),
            fmt(recovery.recovery_s),
            fmt(recovery.since_fault_s),
        )
    console.print(faults)
    services = Table(title="Services at the end")
    for column in ("service", "/ready", "relais_loop_restarts_total", "loops down"):
        services.add_column(column)
    for service, status in verification.ready.items():
        services.add_row(
            service,
            "[green]200[/]" if status == 200 else f"[red]{status}[/]",
            f"{verification.loop_restarts.get(service, 0):.0f}",
            ", ".join(verification.loops_down.get(service, [])) or "-",
        )
    console.print(services)
