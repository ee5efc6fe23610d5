"""One chaos run, start to end: isolated infrastructure, services, traffic, faults,
settling, verification, report. `relais chaos` and the small-run test call `run`."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from relais_cli.chaos.faults import FaultInjector
from relais_cli.chaos.infra import ChaosInfra
from relais_cli.chaos.plan import ChaosPlan
from relais_cli.chaos.processes import Supervisor, probe, wait_all
from relais_cli.chaos.report import (
    build_report,
    plot,
    recoveries,
    show,
    signal,
    write_json,
)
from relais_cli.chaos.sampler import Sampler
from relais_cli.chaos.traffic import (
    ChaosMerchantStub,
    ChatCustomers,
    MailWatcher,
    TrafficDriver,
    summary,
)
from relais_cli.chaos.verify import Verification, backlog, verify
from relais_cli.demo.carriers import FORMATS, GENERIC
from relais_cli.demo.story import DayOfTraffic, Merchant, day_of_traffic
from relais_cli.demo_cmd import (
    carrier_webhooks_environment,
    merchant_secrets,
    write_demo_merchants,
)
from relais_cli.infra.paths import kafka_deploy_dir
from relais_cli.run_cmd import service_environment
from relais_contracts.topics import ALL_TOPICS
from relais_runtime.clock import ScaledClock
from relais_runtime.merchants import load_merchants

INPUT_DRIVEN = (
    "relais.tracking-events.v1",
    "relais.shipment-state.v1",
    "relais.action-results.v1",
    "relais.conversations.v1",
    "actions",
)
"""Series that stop growing once the traffic's input has gone through."""

CHAOS_MERCHANT_ACTIONS = {
    "timeout_s": None,  # the plan's stub_timeout_s
    "max_attempts": 20,
    "circuit_breaker": {"failure_threshold": 50, "cool_down_s": 2},
}
"""What the chaos merchants change in the demo merchants' `actions`: a short webhook
timeout (the stub's slow answers exceed it) and enough attempts to outlast the stub's
seeded failures and the outages."""


@dataclass
class RunResult:
    verification: Verification
    report: dict[str, Any]
    report_path: Path
    plot_path: Path

    @property
    def passed(self) -> bool:
        return self.verification.passed


def write_chaos_merchants(
    *, source: Path, target: Path, stub: ChaosMerchantStub, timeout_s: float
) -> tuple[list[Merchant], dict[str, str]]:
    """The demo merchants, with this run's API keys, webhooks pointed at the stub, and
    the patient action settings of a chaos run."""

    def patient(config: dict[str, Any]) -> None:
        actions = config["actions"]
        actions["webhook"]["timeout_s"] = timeout_s
        actions["max_attempts"] = CHAOS_MERCHANT_ACTIONS["max_attempts"]
        actions["circuit_breaker"] = CHAOS_MERCHANT_ACTIONS["circuit_breaker"]

    return write_demo_merchants(
        source=source, target=target, stub=stub, run="chaos", adjust=patient
    )


def traffic_for(plan: ChaosPlan, *, merchants: list[Merchant], start: datetime) -> DayOfTraffic:
    """The demo's day of traffic, once a day for `plan.waves` days, with at least
    `events_target` carrier calls in all."""
    orders = plan.orders
    while True:
        day = DayOfTraffic()
        for wave in range(plan.waves):
            count = orders // plan.waves + (1 if wave < orders % plan.waves else 0)
            one = day_of_traffic(
                merchants=merchants,
                orders=max(1, count),
                start=start + timedelta(days=wave),
                run_id=f"x{plan.seed}{chr(ord('a') + wave)}",
                seed=plan.seed * 100 + wave,
            )
            day.orders.extend(one.orders)
            day.scans.extend(one.scans)
            for name, value in one.scenarios.items():
                day.scenarios[name] = day.scenarios.get(name, 0) + value
            for name, value in one.formats.items():
                day.formats[name] = day.formats.get(name, 0) + value
        if len(day.scans) >= plan.events_target:
            day.orders.sort(key=lambda call: call.at)
            day.scans.sort(key=lambda call: call.at)
            return day
        orders = int(orders * plan.events_target / max(1, len(day.scans))) + 1


def tuning_environment(speed: float) -> dict[str, str]:
    """Retry delays of the services, which count in virtual time, scaled so that they
    mean the same in real seconds as on the real clock (docs/chaos.md)."""
    return {
        "RELAIS_SEND_ROUNDS": "50",
        "RELAIS_SEND_ROUND_DELAY_S": f"{speed * 1.0:.0f}",
        "RELAIS_SENDING_LEASE_S": f"{speed * 20.0:.0f}",
        "RELAIS_RETRY_DELAYS_S": json.dumps([speed * 1.0, speed * 2.0, speed * 4.0]),
        "RELAIS_CONSUMER_NEW_GROUPS_START": "earliest",
        "RELAIS_LOG_LEVEL": "info",
    }


def run(
    plan: ChaosPlan,
    *,
    state_dir: Path,
    output: Path,
    console: Console,
    keep_infra: bool = False,
) -> RunResult:
    origin = time.monotonic()
    infra = _start_infra(console, state_dir=state_dir, origin=origin)
    stub = ChaosMerchantStub(
        seed=plan.seed,
        error_rate=plan.stub_error_rate,
        slow_rate=plan.stub_timeout_rate,
        slow_s=plan.stub_timeout_s,
        origin=origin,
    )
    stub.start()
    stage = _stage(plan, infra=infra, stub=stub, origin=origin)
    console.print(
        f"traffic: {len(stage.day.orders)} orders, {len(stage.day.scans)} carrier calls over "
        f"{plan.traffic_s:.0f} s (1 real second = {stage.speed / 60:.0f} virtual minutes); "
        f"{len(plan.faults)} faults"
    )
    output.mkdir(parents=True, exist_ok=True)
    crew = _Crew(stage, logs_dir=output / "logs")
    try:
        driver, injector = _drive(stage, crew, console)
        crew.join()
        with console.status("verifying from the outside"):
            verification = _verify(stage, crew, driver)
        return _write_report(
            stage,
            crew,
            driver,
            injector,
            verification=verification,
            output=output,
            console=console,
        )
    finally:
        crew.stop(console)
        stub.stop()
        if not keep_infra:
            with console.status("stopping the isolated infrastructure"):
                infra.discard()


def _start_infra(console: Console, *, state_dir: Path, origin: float) -> ChaosInfra:
    """The run's own Kafka, PostgreSQL and SMTP catcher, cleared of the previous run."""
    infra = ChaosInfra(state_dir=state_dir)
    with console.status(
        "isolated infrastructure: clearing the previous run, starting "
        f"Kafka :{infra.ports.kafka}, PostgreSQL :{infra.ports.postgres}, "
        f"SMTP :{infra.ports.smtp}"
    ):
        asyncio.run(infra.reset())
        asyncio.run(infra.up())
    console.print(
        f"isolated infrastructure up in {time.monotonic() - origin:.0f} s (state {state_dir})"
    )
    return infra


@dataclass
class _Stage:
    """What the run sets before the services start: merchants, secrets, the services'
    environment, the day of traffic and the scaled clock it runs on."""

    plan: ChaosPlan
    infra: ChaosInfra
    stub: ChaosMerchantStub
    origin: float
    merchants_dir: Path
    api_keys: dict[str, str]
    carrier_secrets: dict[str, str]
    environment: dict[str, str]
    ports: dict[str, int]
    real_start: datetime
    day: DayOfTraffic
    speed: float
    clock: ScaledClock

    def in_flight_before(self) -> datetime:
        """Virtual now, less three real seconds: what came due since may be in flight."""
        return self.clock.now() - timedelta(seconds=3 * self.speed)

    def elapsed_s(self) -> float:
        return time.monotonic() - self.origin


def _stage(plan: ChaosPlan, *, infra: ChaosInfra, stub: ChaosMerchantStub, origin: float) -> _Stage:
    paths = infra.settings.paths
    merchants_dir = paths.root / "merchants"
    merchants, api_keys = write_chaos_merchants(
        source=kafka_deploy_dir().parent / "merchants",
        target=merchants_dir,
        stub=stub,
        timeout_s=plan.stub_timeout_s,
    )
    environment = infra.environment() | service_environment(
        state_dir=paths.root, merchants_dir=merchants_dir
    )
    stub.secrets = merchant_secrets(merchants_dir=merchants_dir, environment=environment)
    carrier_secrets = {carrier: secrets.token_urlsafe(32) for carrier in (*FORMATS, GENERIC)}
    allowance_s = 20.0 if plan.small else 40.0
    real_start = datetime.now(UTC) + timedelta(seconds=allowance_s)
    virtual_start = real_start.replace(hour=8, minute=0, second=0, microsecond=0)
    day = traffic_for(plan, merchants=merchants, start=virtual_start)
    span = (day.end - virtual_start) + timedelta(hours=8)
    speed = span.total_seconds() / plan.traffic_s
    ports = infra.ports.services
    environment |= {
        "RELAIS_CLOCK": f"scaled:{real_start.isoformat()}|{virtual_start.isoformat()}|{speed}",
        "RELAIS_PUBLIC_CHAT_BASE_URL": f"http://127.0.0.1:{ports['chat']}",
        "RELAIS_PUBLIC_NOTIFIER_BASE_URL": f"http://127.0.0.1:{ports['notifier']}",
        **carrier_webhooks_environment(carrier_secrets),
        **tuning_environment(speed),
    }
    return _Stage(
        plan=plan,
        infra=infra,
        stub=stub,
        origin=origin,
        merchants_dir=merchants_dir,
        api_keys=api_keys,
        carrier_secrets=carrier_secrets,
        environment=environment,
        ports=ports,
        real_start=real_start,
        day=day,
        speed=speed,
        clock=ScaledClock(real_start=real_start, virtual_start=virtual_start, factor=speed),
    )


class _Crew:
    """Everything running beside the infrastructure: the six services (supervised), the
    mail watcher, the chat customers, the sampler, and, once the traffic starts, the
    traffic driver and the fault injector, each of the last four on its own thread."""

    def __init__(self, stage: _Stage, *, logs_dir: Path) -> None:
        self.supervisor = Supervisor(
            environment=stage.environment,
            ports=stage.ports,
            logs_dir=logs_dir,
            origin=stage.origin,
        )
        self.supervisor.start()
        self.threads: list[threading.Thread] = []
        self.mail = MailWatcher(stage.infra.mail_dir, origin=stage.origin)
        self.driver: TrafficDriver | None = None
        self.customers = ChatCustomers(
            seed=stage.plan.seed, rate=stage.plan.chat_answer_rate, mail=self.mail
        )
        ports = stage.ports
        self.sampler = Sampler(
            bootstrap=stage.infra.bootstrap,
            topics=[topic.name for topic in ALL_TOPICS],
            mail=self.mail,
            stub=stage.stub,
            traffic=lambda: self.driver.stats if self.driver is not None else None,
            ready=lambda: {s: probe(p, "/ready", timeout_s=0.5)[0] for s, p in ports.items()},
            origin=stage.origin,
        )
        self.injector: FaultInjector | None = None

    def start_threads(self, driver: TrafficDriver, injector: FaultInjector) -> None:
        for name, target in (
            ("chaos-sampler", self.sampler.run),
            ("chaos-chat", self.customers.run),
            ("chaos-traffic", driver.run),
            ("chaos-faults", injector.run),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self) -> None:
        """Stop the customers and the sampler, wait for the threads, read the last mail."""
        self.customers.stop.set()
        self.sampler.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)
        self.mail.poll()

    def stop(self, console: Console) -> None:
        if self.driver is not None:
            self.driver.stop.set()
        if self.injector is not None:
            self.injector.stop.set()
        self.customers.stop.set()
        self.sampler.stop.set()
        with console.status("stopping the services"):
            self.supervisor.stop(grace_s=5.0)


def _drive(stage: _Stage, crew: _Crew, console: Console) -> tuple[TrafficDriver, FaultInjector]:
    """Wait for the services, send the traffic while the faults strike, then settle."""
    with console.status("starting the six services (relais run <service>)"):
        health = wait_all(stage.ports, path="/health", timeout_s=120)
        ready = wait_all(stage.ports, path="/ready", timeout_s=30)
    console.print(f"services: /health {health}, /ready {ready}")
    wait = (stage.real_start - datetime.now(UTC)).total_seconds()
    if wait > 0:
        time.sleep(wait)
    traffic_start_s = stage.elapsed_s()
    driver = crew.driver = TrafficDriver(
        day=stage.day,
        clock=stage.clock,
        tracker_url=f"http://127.0.0.1:{stage.ports['tracker']}",
        api_keys=stage.api_keys,
        carrier_secrets=stage.carrier_secrets,
        origin=stage.origin,
    )
    with _progress(console) as progress:

        def note(message: str) -> None:
            progress.console.print(f"[{stage.elapsed_s():6.1f} s] {message}")

        injector = crew.injector = FaultInjector(
            faults=stage.plan.faults,
            infra=stage.infra,
            supervisor=crew.supervisor,
            origin=stage.origin,
            traffic_start_s=traffic_start_s,
            on_event=note,
        )
        crew.start_threads(driver, injector)
        until = traffic_start_s + stage.plan.traffic_s
        _follow_traffic(stage, crew, driver, injector, progress, until=until)
        crew.customers.stop.set()  # their last answers are processed while settling
        settle = progress.add_task("settling", total=stage.plan.settle_max_s, info="")
        settled_at = _settle(
            stage.plan,
            crew.sampler,
            progress,
            settle,
            stage.origin,
            backlog=lambda: asyncio.run(
                backlog(stage.infra.database_url, virtual_now=stage.in_flight_before())
            ),
        )
        note(
            "pipeline quiet"
            if settled_at is not None
            else f"still busy after {stage.plan.settle_max_s:.0f} s; verifying anyway"
        )
    return driver, injector


def _follow_traffic(
    stage: _Stage,
    crew: _Crew,
    driver: TrafficDriver,
    injector: FaultInjector,
    progress: Progress,
    *,
    until: float,
) -> None:
    """Show the calls sent until the traffic and the faults are done and `until` passed."""
    calls = progress.add_task("carrier + order calls", total=len(driver.calls), info="")
    while True:
        done, _ = driver.progress
        now = stage.elapsed_s()
        progress.update(
            calls,
            completed=done,
            info=f"{stage.clock.now():%a %H:%M} virtual · {crew.mail.count()} emails · "
            f"{stage.stub.acted_count()} actions · {len(crew.supervisor.restarts)} restarts",
        )
        if driver.done.is_set() and injector.done.is_set() and now >= until:
            break
        time.sleep(0.5)


def _verify(stage: _Stage, crew: _Crew, driver: TrafficDriver) -> Verification:
    mail = crew.mail
    return verify(
        bootstrap=stage.infra.bootstrap,
        database_url=stage.infra.database_url,
        day=stage.day,
        stats=driver.stats,
        mails_after=lambda: (mail.poll(), list(mail.mails))[1],
        stub=stage.stub,
        merchants=load_merchants(stage.merchants_dir),
        ports=stage.ports,
        # What came due in the last three real seconds may still be in flight.
        virtual_now=stage.in_flight_before(),
    )


def _write_report(
    stage: _Stage,
    crew: _Crew,
    driver: TrafficDriver,
    injector: FaultInjector,
    *,
    verification: Verification,
    output: Path,
    console: Console,
) -> RunResult:
    """report.json, throughput.png, and the verdict on the console."""
    day, plan, samples = stage.day, stage.plan, crew.sampler.samples
    recovered = recoveries(injector.records, samples)
    report = build_report(
        plan=plan,
        verification=verification,
        recovered=recovered,
        samples=samples,
        extra={
            "speed": stage.speed,
            "traffic": {
                "orders_sent": len(day.orders),
                "carrier_calls": len(day.scans),
                "scenarios": day.scenarios,
                "formats": day.formats,
                **summary(driver.stats),
            },
            "chat": summary(crew.customers.stats),
            "process_restarts": [r.__dict__ for r in crew.supervisor.restarts],
            "unexpected_exits": crew.supervisor.unexpected_exits,
            "duration_s": round(stage.elapsed_s(), 1),
            "logs": str(output / "logs"),
        },
    )
    result = RunResult(
        verification=verification,
        report=report,
        report_path=output / "report.json",
        plot_path=output / "throughput.png",
    )
    write_json(result.report_path, report)
    plot(
        result.plot_path,
        samples=samples,
        recovered=recovered,
        title=f"relais chaos, seed {plan.seed}: {len(day.scans)} carrier calls, "
        f"{len(plan.faults)} faults, lost {verification.lost}, "
        f"duplicated {verification.duplicated}",
    )
    show(console, verification=verification, recovered=recovered)
    return result


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    )


def _settle(
    plan: ChaosPlan,
    sampler: Sampler,
    progress: Progress,
    task: Any,
    origin: float,
    *,
    backlog: Callable[[], dict[str, int]],
) -> float | None:
    """Wait until the traffic's input is processed (no new tracking event, shipment
    state or action result for `quiet_s`), no email is due unsent, no action is pending
    and every service is ready; or until `settle_max_s` passed. Time-driven work (timers
    on the still-running clock) may go on: the checks hold at any instant."""
    keys = INPUT_DRIVEN
    started = time.monotonic()
    while time.monotonic() - started < plan.settle_max_s:
        samples = sampler.samples
        if samples:
            last = samples[-1]
            recent = [s for s in samples if s.at_s >= last.at_s - plan.quiet_s]
            values = {signal(s, keys) for s in recent}
            span = last.at_s - recent[0].at_s
            ready = all(status == 200 for status in last.ready.values())
            if span >= plan.quiet_s - 1 and len(values) == 1 and None not in values and ready:
                try:
                    left = backlog()
                except Exception as error:
                    left = {type(error).__name__: 1}
                progress.update(task, info=", ".join(f"{k} {v}" for k, v in left.items()))
                if not any(left.values()):
                    return time.monotonic() - origin
        progress.update(task, completed=time.monotonic() - started)
        time.sleep(1.0)
    return None
