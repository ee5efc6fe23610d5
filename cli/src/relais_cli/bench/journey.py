"""`relais bench journey`: a carrier webhook becomes an email accepted by SMTP: how long,
at 50, 200 and 500 carrier events/s.

The whole stack runs in processes on an isolated infrastructure (bench/journey_stack.py).
For each rate, the orders are placed first (not measured); then an open-loop sender in
its own process (bench/sender.py) posts the rate's carrier webhooks on a fixed schedule
for `--duration` seconds, one event in five a failed delivery attempt that the notifier
emails at once (bench/journey_plan.py). Latency of one journey = the time the SMTP
catcher stored the email (its Maildir file's modification time) minus the time the
failed attempt's webhook request was written; both are wall-clock times of this
machine. After the last webhook the bench waits up to `--drain` seconds for the
emails still on their way; an email that never comes is counted missing, never as a
latency.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from relais_cli.bench import journey_plan as plan
from relais_cli.bench.common import console
from relais_cli.bench.journey_cpu import CpuWatch
from relais_cli.bench.journey_hops import hop_spreads
from relais_cli.bench.journey_report import report, write_artifacts
from relais_cli.bench.journey_stack import Stack, default_state_dir, place_orders, start_stack
from relais_cli.bench.memory import peak_rss_mb
from relais_cli.bench.sender import Job, sender_process
from relais_cli.bench.stats import Spread
from relais_cli.demo.carriers import GENERIC
from relais_cli.demo_cmd import carrier_headers
from relais_cli.infra import faults

WEBHOOK_PATH = f"/webhooks/carriers/{GENERIC}"
PROBE_RATE_INDEX = 9


@dataclass
class RateResult:
    rate: float
    duration_s: float
    events_sent: int = 0
    accepted: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    achieved_rate: float = float("nan")
    late: Spread = field(default_factory=lambda: Spread.of([]))
    """How late the requests went out against their schedule (seconds)."""
    emails_expected: int = 0
    emails_received: int = 0
    duplicates: int = 0
    latency: Spread = field(default_factory=lambda: Spread.of([]))
    """Webhook written -> email stored (seconds)."""
    hops: dict[str, Spread] = field(default_factory=dict)
    """The latency cut per hop (bench/journey_hops.py), seconds."""
    cpu: dict[str, float] = field(default_factory=dict)
    """Share of one core each process used while the rate ran (bench/journey_cpu.py)."""
    answered: Spread = field(default_factory=lambda: Spread.of([]))
    """Webhook written -> its answer read (seconds), every webhook."""
    timed: dict[str, tuple[float, float, float]] = field(default_factory=dict, repr=False)
    """Order key -> (webhook written, answered, email stored) of each journey that ended."""


class MaildirScanner:
    """New files of the SMTP catcher's Maildir: (order key, time stored), each file once."""

    def __init__(self, maildir: Path) -> None:
        self.new = maildir / "new"
        self.seen: set[str] = set()

    def scan(self) -> list[tuple[str, float]]:
        found: list[tuple[str, float]] = []
        if not self.new.is_dir():
            return found
        for entry in os.scandir(self.new):
            if entry.name in self.seen:
                continue
            try:
                with open(entry.path, "rb") as mail:
                    head = mail.read(4096)
                stored_at = entry.stat().st_mtime
            except OSError:
                continue
            self.seen.add(entry.name)
            key = plan.mail_order_key(head)
            if key is not None:
                found.append((key, stored_at))
        return found


@dataclass
class Journeys:
    """One rate's webhooks, and the emails they are waiting for."""

    rate_index: int
    rate: float
    steps: list[plan.Step]
    jobs: list[Job]
    expected: dict[str, int]
    """order key -> index of its failed-attempt job."""


def journeys(
    stack: Stack, *, run: str, rate_index: int, rate: float, duration_s: float, per_order: int
) -> Journeys:
    now = datetime.now(UTC)
    steps = plan.schedule(rate=rate, duration_s=duration_s, per_order=per_order)
    jobs, expected = [], {}
    for index, step in enumerate(steps):
        body = plan.json_bytes(
            plan.scan_payload(
                run=run, rate_index=rate_index, step=step, per_order=per_order, now=now
            )
        )
        headers = carrier_headers(carrier=GENERIC, secret=stack.carrier_secret, body=body)
        jobs.append(Job(step.at_s, WEBHOOK_PATH, body, tuple(headers.items())))
        if step.anomaly:
            expected[plan.order_id(run, rate_index, step.order).lower()] = index
    return Journeys(rate_index, rate, steps, jobs, expected)


def send(
    stack: Stack,
    journeys: Journeys,
    *,
    progress: Progress,
    scanner: MaildirScanner,
    mails: dict[str, list[float]],
    connections: int,
) -> list[Any]:
    """Run the sender process; meanwhile show its progress and collect the emails."""
    context = multiprocessing.get_context("spawn")
    counter, results = context.Value("i", 0), context.Queue()
    port = stack.infra.ports.services["tracker"]
    child = context.Process(
        target=sender_process,
        args=("127.0.0.1", port, journeys.jobs, 0.5, connections, counter, results),
        daemon=True,
    )
    child.start()
    sent_task = progress.add_task(
        f"{journeys.rate:,.0f} events/s: webhooks sent", total=len(journeys.jobs)
    )
    mail_task = progress.add_task("  emails received", total=len(journeys.expected))
    while True:
        collect(scanner, mails)
        progress.update(sent_task, completed=counter.value)
        progress.update(mail_task, completed=received(mails, journeys.expected))
        try:
            sent: list[Any] = results.get(timeout=0.25)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError("the webhook sender died") from None
    child.join(timeout=10)
    progress.update(sent_task, completed=len(journeys.jobs))
    return sent


def collect(scanner: MaildirScanner, mails: dict[str, list[float]]) -> None:
    for key, stored_at in scanner.scan():
        mails.setdefault(key, []).append(stored_at)


def received(mails: dict[str, list[float]], expected: dict[str, int]) -> int:
    return sum(1 for key in expected if key in mails)


def drain(
    journeys: Journeys,
    accepted: set[str],
    *,
    scanner: MaildirScanner,
    mails: dict[str, list[float]],
    progress: Progress,
    drain_s: float,
) -> None:
    """Wait until every accepted failed attempt has its email, or `drain_s` passed."""
    task = progress.add_task("  waiting for the last emails", total=len(accepted))
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        collect(scanner, mails)
        arrived = sum(1 for key in accepted if key in mails)
        progress.update(task, completed=arrived)
        if arrived >= len(accepted):
            return
        time.sleep(0.2)


def outcome(
    journeys: Journeys,
    sent: list[Any],
    mails: dict[str, list[float]],
    *,
    rate: float,
    duration_s: float,
) -> RateResult:
    result = RateResult(rate=rate, duration_s=duration_s)
    done = [s for s in sent if s is not None]
    result.events_sent = len(done)
    result.answers = Counter(s[2] for s in done)
    result.accepted = result.answers.get(202, 0)
    times = sorted(s[0] for s in done)
    if len(times) > 1 and times[-1] > times[0]:
        result.achieved_rate = (len(times) - 1) / (times[-1] - times[0])
    result.late = Spread.of([s[1] for s in done])
    result.answered = Spread.of([s[3] for s in done])
    latencies = []
    for key, index in journeys.expected.items():
        answer = sent[index]
        if answer is None or answer[2] != 202:
            continue
        result.emails_expected += 1
        if key in mails:
            result.emails_received += 1
            result.duplicates += len(mails[key]) - 1
            latencies.append(min(mails[key]) - answer[0])
            result.timed[key] = (answer[0], answer[0] + answer[3], min(mails[key]))
    result.latency = Spread.of(latencies)
    return result


def accepted_keys(journeys: Journeys, sent: list[Any]) -> set[str]:
    return {
        key
        for key, index in journeys.expected.items()
        if sent[index] is not None and sent[index][2] == 202
    }


def measure_rate(
    stack: Stack,
    journeys: Journeys,
    *,
    rate: float,
    duration_s: float,
    drain_s: float,
    connections: int,
    scanner: MaildirScanner,
) -> RateResult:
    mails: dict[str, list[float]] = {}
    watch = CpuWatch(watched_pids(stack))
    watch.start()
    with progress_bar() as progress:
        sent = send(
            stack,
            journeys,
            progress=progress,
            scanner=scanner,
            mails=mails,
            connections=connections,
        )
        drain(
            journeys,
            accepted_keys(journeys, sent),
            scanner=scanner,
            mails=mails,
            progress=progress,
            drain_s=drain_s,
        )
    cpu = watch.shares()
    result = outcome(journeys, sent, mails, rate=rate, duration_s=duration_s)
    result.cpu = cpu
    result.hops = hop_spreads(stack.infra.database_url, result.timed)
    return result


def watched_pids(stack: Stack) -> dict[str, int]:
    """The six services, Kafka and PostgreSQL (its backends counted with it)."""
    pids = {service: stack.supervisor.pid(service) for service in stack.infra.ports.services}
    for name, pid in (
        ("kafka", faults.kafka_pid(stack.infra.settings)),
        ("postgresql", faults.postgres_pid(stack.infra.settings)),
    ):
        if pid is not None:
            pids[name] = pid
    return pids


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def set_up(stack: Stack, all_journeys: list[Journeys], *, run: str) -> None:
    """Every order of every rate, and the probe's, placed and held by the tracker."""
    now = datetime.now(UTC)
    bodies = [
        plan.order_request(
            merchant=stack.merchant, run=run, rate_index=j.rate_index, order=order, now=now
        )
        for j in all_journeys
        for order in sorted({step.order for step in j.steps})
    ]
    with progress_bar() as progress:
        asyncio.run(place_orders(stack, bodies, progress=progress))


def probe(stack: Stack, probe_journeys: Journeys, scanner: MaildirScanner) -> float:
    """One journey end to end before measuring (warms the path, proves it works)."""
    result = measure_rate(
        stack, probe_journeys, rate=10, duration_s=0, drain_s=60, connections=1, scanner=scanner
    )
    if result.emails_received < 1:
        raise RuntimeError(
            "the probe's failed attempt produced no email within 60 s: see the services' "
            f"logs ({result.answers} answers to the webhooks)"
        )
    return result.latency.max


def run_journey_bench(
    *,
    rates: list[float],
    duration_s: float,
    anomaly_share: float,
    drain_s: float,
    connections: int,
    state_dir: Path,
    output: Path,
    keep_infra: bool,
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    per_order = plan.events_per_order(anomaly_share)
    stack = start_stack(console, state_dir=state_dir, logs_dir=output / "bench-journey-logs")
    try:
        every = [
            journeys(
                stack, run=run, rate_index=i, rate=rate, duration_s=duration_s, per_order=per_order
            )
            for i, rate in enumerate(rates)
        ]
        probe_journeys = journeys(
            stack,
            run=run,
            rate_index=PROBE_RATE_INDEX,
            rate=10,
            duration_s=per_order / 10,
            per_order=per_order,
        )
        set_up(stack, [probe_journeys, *every], run=run)
        scanner = MaildirScanner(stack.infra.mail_dir)
        probe_s = probe(stack, probe_journeys, scanner)
        console.print(f"probe journey: webhook -> email in {probe_s * 1000:,.0f} ms")
        results = []
        for rate, one in zip(rates, every, strict=True):
            results.append(
                measure_rate(
                    stack,
                    one,
                    rate=rate,
                    duration_s=duration_s,
                    drain_s=drain_s,
                    connections=connections,
                    scanner=scanner,
                )
            )
        peaks = {
            service: peak_rss_mb(stack.supervisor.pid(service))
            for service in stack.infra.ports.services
        }
        restarts = len(stack.supervisor.restarts)
    finally:
        with console.status("stopping the services and the isolated infrastructure"):
            stack.stop(keep_infra=keep_infra)
    report(results, peaks, restarts=restarts, per_order=per_order)
    write_artifacts(output, results, peaks, restarts=restarts, per_order=per_order)


def journey(
    rates: Annotated[
        str, typer.Option(help="Carrier events/s, comma-separated; one run per rate.")
    ] = "50,200,500",
    duration: Annotated[float, typer.Option(min=1, help="Seconds each rate is sustained.")] = 60,
    anomaly_share: Annotated[
        float, typer.Option(min=0.05, max=1, help="Share of events that make an email.")
    ] = 0.2,
    drain: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the last emails of a rate.")
    ] = 30,
    connections: Annotated[
        int, typer.Option(min=1, help="Keep-alive connections of the webhook sender.")
    ] = 64,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="State dir of the isolated infrastructure (~/.local/state/relais-bench)."
        ),
    ] = None,
    output: Annotated[Path, typer.Option(help="Where the plot, JSON and logs go.")] = Path(
        "artifacts"
    ),
    keep_infra: Annotated[
        bool, typer.Option(help="Leave the isolated infrastructure running at the end.")
    ] = False,
) -> None:
    """Carrier webhook -> anomaly -> email accepted by SMTP: latency per rate.

    Starts its own isolated Kafka, PostgreSQL and SMTP catcher (ports 39092, 39432,
    39025; services 39001-39006) and the six services as processes; the shared
    `relais infra` is not used. Writes bench-journey.png and bench-journey.json.
    """
    try:
        parsed = [float(value) for value in rates.split(",") if value.strip()]
    except ValueError:
        raise typer.BadParameter(
            "comma-separated numbers, e.g. 50,200,500", param_hint="--rates"
        ) from None
    if not parsed or min(parsed) <= 0:
        raise typer.BadParameter("at least one positive rate", param_hint="--rates")
    try:
        run_journey_bench(
            rates=parsed,
            duration_s=duration,
            anomaly_share=anomaly_share,
            drain_s=drain,
            connections=connections,
            state_dir=state_dir or default_state_dir(),
            output=output,
            keep_infra=keep_infra,
        )
    except RuntimeError as error:
        console.print(f"[red]relais bench journey: {error}[/red]")
        raise typer.Exit(1) from None
