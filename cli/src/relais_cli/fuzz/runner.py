"""One fuzz run, start to end: isolated infrastructure, the six services in this
process, HTTP, carrier webhooks, Kafka, the services' health, the report.
`relais fuzz` calls `run`."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from relais_cli.fuzz import kafka as kafka_phase
from relais_cli.fuzz.forms import FormResult, form_targets, fuzz_forms, subject_of
from relais_cli.fuzz.health import Survival, survival
from relais_cli.fuzz.http import HttpResult, HttpTarget, fuzz_http
from relais_cli.fuzz.infra import SERVICES, FuzzInfra
from relais_cli.fuzz.messages import (
    Example,
    FuzzMessage,
    load_examples,
    malformed_messages,
    sentinel,
)
from relais_cli.fuzz.report import build_report, rows, show, write_html, write_json
from relais_cli.fuzz.stack import (
    STOP_SLOW_S,
    STOP_TIMEOUT_S,
    FuzzStack,
    prepare,
    running_stack,
    scrubbed_environment,
    wait_ready,
)
from relais_cli.fuzz.text_fields import TextKind, text_fields
from relais_cli.fuzz.webhook_cases import webhook_cases
from relais_cli.fuzz.webhooks import WebhookResult, fuzz_webhooks
from relais_cli.infra.base import Outcome
from relais_cli.infra.paths import kafka_deploy_dir
from relais_contracts.registry import Topic
from relais_contracts.topics import ALL_TOPICS, anomalies
from relais_tracker.adapters import carriers

INSIGHTS_COOKIE = "relais_insights"


@dataclass(frozen=True)
class FuzzPlan:
    seed: int
    quick: bool
    max_examples: int
    """schemathesis test cases per API operation and phase."""
    phases: tuple[str, ...]
    per_kind: int
    """Malformed Kafka messages of each kind per topic."""
    webhook_per_carrier: int
    form_cases: int
    """Random form mutations per page (plus the fixed hostile encodings)."""
    http_timeout_s: float
    kafka_timeout_s: float


def plan_run(*, seed: int, examples: int | None, quick: bool) -> FuzzPlan:
    if quick:
        return FuzzPlan(
            seed=seed,
            quick=True,
            max_examples=examples or 25,
            phases=("examples", "fuzzing"),
            per_kind=2,
            webhook_per_carrier=2,
            form_cases=10,
            http_timeout_s=300,
            kafka_timeout_s=60,
        )
    return FuzzPlan(
        seed=seed,
        quick=False,
        max_examples=examples or 50,
        phases=("examples", "coverage", "fuzzing"),
        per_kind=6,
        webhook_per_carrier=5,
        form_cases=60,
        http_timeout_s=1200,
        kafka_timeout_s=120,
    )


@dataclass
class RunResult:
    report: dict[str, Any]
    json_path: Path
    html_path: Path

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])


class InfraProgress:
    """Prints each component's outcome (relais_cli.infra.base.Reporter)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def step(self, component: str, message: str) -> None:
        self.console.print(f"  [cyan]{component:<8}[/] {message}", highlight=False)

    def waiting(self, component: str, message: str) -> None:
        del component, message

    def finished(self, outcome: Outcome) -> None:
        mark = "[green]✓[/]" if outcome.ok else "[red]✗[/]"
        self.console.print(
            f"  {mark} {outcome.component:<8} {outcome.action.value} {outcome.address} "
            f"in {outcome.seconds:.1f} s {outcome.detail if not outcome.ok else ''}",
            highlight=False,
        )


def run(
    plan: FuzzPlan, *, state_dir: Path, output: Path, console: Console, keep_infra: bool
) -> RunResult:
    with scrubbed_environment():
        return asyncio.run(
            _run(
                plan,
                state_dir=state_dir,
                output=output.absolute(),
                console=console,
                keep_infra=keep_infra,
            )
        )


@dataclass
class _Findings:
    """What each phase found, for the rows and the report (empty for a phase not run)."""

    http: list[HttpResult] = field(default_factory=list)
    webhooks: WebhookResult | None = None
    forms: list[FormResult] = field(default_factory=list)
    groups: list[kafka_phase.GroupResult] = field(default_factory=list)
    malformed: list[kafka_phase.Published] = field(default_factory=list)
    sentinels: list[kafka_phase.Published] = field(default_factory=list)
    others: list[kafka_phase.Letter] = field(default_factory=list)
    survivals: list[Survival] = field(default_factory=list)
    plain: dict[str, list[str]] = field(default_factory=dict)


async def _run(
    plan: FuzzPlan, *, state_dir: Path, output: Path, console: Console, keep_infra: bool
) -> RunResult:
    started = time.monotonic()
    infra = FuzzInfra(state_dir=state_dir)
    meta = _meta(plan, infra, started_at=datetime.now(UTC))
    console.print(
        f"isolated infrastructure in {infra.state_dir} (Kafka {infra.bootstrap}, PostgreSQL "
        f":{infra.ports.postgres}, SMTP :{infra.ports.smtp}), wiped first"
    )
    with console.status("stopping and deleting the previous fuzz run's infrastructure"):
        await infra.reset()
    findings = _Findings()
    try:
        with console.status("starting Kafka, PostgreSQL and the SMTP catcher"):
            await infra.up(reporter=InfraProgress(console))
        console.print(f"infrastructure up in {time.monotonic() - started:.0f} s; topics created")
        stack = await _fuzz_services(plan, infra, findings, output=output, console=console)
        meta["stop_seconds"] = stack.stop_seconds
        meta["slow_at_stop"] = stack.slow_at_stop
        meta["stuck_at_stop"] = stack.stuck_at_stop
        _print_stops(console, stack)
    finally:
        if keep_infra:
            console.print(f"infrastructure left running (--keep-infra): {infra.state_dir}")
        else:
            with console.status("stopping the isolated infrastructure"):
                await infra.down()
    meta["seconds"] = round(time.monotonic() - started, 1)
    return await _report(findings, meta, output=output, console=console)


def _meta(plan: FuzzPlan, infra: FuzzInfra, *, started_at: datetime) -> dict[str, Any]:
    return {
        "seed": plan.seed,
        "quick": plan.quick,
        "max_examples": plan.max_examples,
        "phases": list(plan.phases),
        "started_at": started_at.isoformat(),
        "state_dir": str(infra.state_dir),
        "kafka": infra.bootstrap,
        "database": f"127.0.0.1:{infra.ports.postgres}",
        "services": {
            name: f"http://127.0.0.1:{port}" for name, port in infra.ports.services.items()
        },
    }


async def _fuzz_services(
    plan: FuzzPlan, infra: FuzzInfra, findings: _Findings, *, output: Path, console: Console
) -> FuzzStack:
    """Start the six services, run every phase against them, stop them: the stopped stack."""
    prepared = await asyncio.to_thread(
        prepare,
        infra,
        directory=infra.state_dir / "run",
        source_merchants=kafka_deploy_dir().parent / "merchants",
    )
    async with contextlib.AsyncExitStack() as exits:
        with console.status("starting the six services in this process"):
            stack = await exits.enter_async_context(running_stack(infra, prepared=prepared))
        statuses = await wait_ready(stack.urls)
        console.print(
            "services: "
            + ", ".join(
                f"{name} {'[green]ready[/]' if status == 200 else f'[red]{status}[/]'}"
                for name, status in statuses.items()
            )
            + f" (logs: {stack.log_path})"
        )
        metrics_before = await _metrics(stack)
        letters_start = await kafka_phase.end_offsets(
            infra.bootstrap, [kafka_phase.DEAD_LETTER_TOPIC]
        )
        findings.http = await _http_phase(plan, stack, output=output, infra=infra, console=console)
        findings.webhooks = await _webhook_phase(
            plan, stack, output=output, infra=infra, console=console
        )
        (
            findings.malformed,
            findings.sentinels,
            findings.groups,
            findings.others,
            findings.plain,
        ) = await _kafka_phase(
            plan, stack, infra=infra, console=console, letters_start=letters_start
        )
        findings.forms = await _form_phase(
            plan, stack, sentinels=findings.sentinels, output=output, console=console
        )
        findings.survivals = await _survivals(stack, metrics_before)
        console.print("stopping the services")
    return stack


def _print_stops(console: Console, stack: FuzzStack) -> None:
    console.print(
        "services stopped in "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stack.stop_seconds.items())
    )
    for name in stack.slow_at_stop:
        console.print(
            f"[yellow]{name} took more than {STOP_SLOW_S:.0f} s to stop[/]: where its tasks "
            "waited is in report.json (slow_at_stop)"
        )
    for name in stack.stuck_at_stop:
        console.print(
            f"[red]{name} did not stop within {STOP_TIMEOUT_S:.0f} s[/]: where its tasks "
            "waited is in report.json (stuck_at_stop)"
        )


async def _report(
    findings: _Findings, meta: dict[str, Any], *, output: Path, console: Console
) -> RunResult:
    """The targets table on the console, report.json and report.html."""
    found = rows(
        http=findings.http,
        webhooks=findings.webhooks,
        forms=findings.forms,
        groups=findings.groups,
        published=findings.malformed,
        survivals=findings.survivals,
        stuck_at_stop=meta.get("stuck_at_stop"),
    )
    report = build_report(
        meta=meta,
        http=findings.http,
        webhooks=findings.webhooks,
        forms=findings.forms,
        groups=findings.groups,
        published=findings.malformed,
        sentinels=findings.sentinels,
        other_letters=findings.others,
        plain_text_fields=findings.plain,
        survivals=findings.survivals,
        found_rows=found,
    )
    show(console, found, findings.survivals)
    json_path = await asyncio.to_thread(write_json, report, output / "report.json")
    html_path = await asyncio.to_thread(write_html, report, output / "report.html")
    return RunResult(report=report, json_path=json_path, html_path=html_path)


async def _metrics(stack: FuzzStack) -> str:
    """The Prometheus exposition (one registry for the six services of this process)."""
    async with httpx.AsyncClient(timeout=10) as client:
        return (await client.get(f"{stack.urls['tracker']}/metrics")).text


async def _insights_cookie(stack: FuzzStack, merchant_id: str, api_key: str) -> str | None:
    """A dashboard session cookie, from the login form, as a Cookie header value."""
    url = f"{stack.urls['insights']}/insights/{merchant_id}/login"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(url, data={"api_key": api_key}, follow_redirects=False)
    value = response.cookies.get(INSIGHTS_COOKIE)
    return f"{INSIGHTS_COOKIE}={value}" if value else None


async def http_targets(stack: FuzzStack) -> list[HttpTarget]:
    merchant = stack.merchant("fr")
    bearer = {"Authorization": f"Bearer {merchant.api_key}"}
    insights_headers = dict(bearer)
    cookie = await _insights_cookie(stack, merchant.merchant_id, merchant.api_key)
    if cookie:
        insights_headers["Cookie"] = cookie
    special = {
        "tracker": HttpTarget("tracker", stack.urls["tracker"], headers=bearer),
        "insights": HttpTarget(
            "insights",
            stack.urls["insights"],
            headers=insights_headers,
            parameters={"path.merchant_id": merchant.merchant_id},
        ),
    }
    return [special.get(name) or HttpTarget(name, stack.urls[name]) for name in SERVICES]


async def _http_phase(
    plan: FuzzPlan, stack: FuzzStack, *, output: Path, infra: FuzzInfra, console: Console
) -> list[HttpResult]:
    results = []
    for target in await http_targets(stack):
        with console.status(
            f"http {target.service}: schemathesis ({', '.join(plan.phases)}, "
            f"{plan.max_examples} examples per operation)"
        ):
            result = await fuzz_http(
                target,
                out_dir=output / "http" / target.service,
                config_dir=infra.state_dir / "run",
                seed=plan.seed,
                max_examples=plan.max_examples,
                phases=plan.phases,
                errors=stack.errors,
                timeout_s=plan.http_timeout_s,
            )
        mark = "[green]✓[/]" if result.count("5xx") == 0 and not result.problem else "[red]✗[/]"
        console.print(
            f"  {mark} http {target.service:<8} {result.requests} requests on "
            f"{result.operations} operations: 4xx {result.count('4xx')}, 5xx "
            f"{result.count('5xx')} in {result.seconds:.0f} s {result.problem}",
            highlight=False,
        )
        results.append(result)
    return results


async def _webhook_phase(
    plan: FuzzPlan, stack: FuzzStack, *, output: Path, infra: FuzzInfra, console: Console
) -> WebhookResult:
    cases = webhook_cases(
        list(carriers.ADAPTERS),
        rng=random.Random(f"{plan.seed}:webhooks"),
        limit=stack.webhook_limit,
        app_limit=stack.app_limit,
        per_carrier=plan.webhook_per_carrier,
    )
    with Progress(
        TextColumn("  webhooks"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task("cases", total=len(cases))
        result = await fuzz_webhooks(
            stack,
            cases,
            bootstrap=infra.bootstrap,
            out_dir=output / "webhooks",
            on_case=lambda done, _status: progress.update(task, completed=done),
        )
    mark = (
        "[green]✓[/]"
        if not result.failures and result.nothing_published_for_refused
        else "[red]✗[/]"
    )
    console.print(
        f"  {mark} webhooks {result.cases} cases: 4xx {result.count('4xx')}, 5xx "
        f"{result.count('5xx')}, accepted {result.accepted}, published {result.published}, "
        f"unexpected answers {len(result.failures)}",
        highlight=False,
    )
    return result


def _foreign(topic: Topic, examples: dict[str, list[Example]]) -> Example | None:
    """An example of another topic (a valid message on the wrong topic)."""
    for name, found in examples.items():
        if name != topic.name and found and topic.name.split(".v")[0] not in name:
            return found[0]
    return None


def kafka_messages(
    plan: FuzzPlan, topics: Sequence[Topic], *, merchants: dict[str, str]
) -> tuple[list[FuzzMessage], list[FuzzMessage]]:
    """(malformed messages of every topic, one sentinel per topic that has one)."""
    examples = {topic.name: load_examples(topic) for topic in ALL_TOPICS}
    malformed: list[FuzzMessage] = []
    sentinels: list[FuzzMessage] = []
    now = datetime.now(UTC)
    for topic in topics:
        rng = random.Random(f"{plan.seed}:{topic.name}")
        malformed += malformed_messages(
            topic,
            examples[topic.name],
            foreign=_foreign(topic, examples),
            rng=rng,
            per_kind=plan.per_kind,
        )
        found = sentinel(topic, examples[topic.name], merchants=merchants, rng=rng, now=now)
        if found is not None:
            sentinels.append(found)
    return malformed, sentinels


async def _kafka_phase(
    plan: FuzzPlan,
    stack: FuzzStack,
    *,
    infra: FuzzInfra,
    console: Console,
    letters_start: dict[Any, int],
) -> tuple[
    list[kafka_phase.Published],
    list[kafka_phase.Published],
    list[kafka_phase.GroupResult],
    list[kafka_phase.Letter],
    dict[str, list[str]],
]:
    consumed = {topic for _, _, topic in stack.consumers}
    topics = [topic for topic in ALL_TOPICS if topic.name in consumed]
    malformed_messages_, sentinel_messages = kafka_messages(
        plan, topics, merchants=stack.example_merchants()
    )
    plain = {
        f"{topic.name} {model.__name__}": [
            text.dotted for text in text_fields(model) if text.kind is TextKind.PLAIN
        ]
        for topic in topics
        for model in topic.message_types
    }
    with console.status(f"kafka: publishing {len(malformed_messages_)} malformed messages"):
        malformed = await kafka_phase.publish(infra.bootstrap, malformed_messages_)
        sentinels = await kafka_phase.publish(infra.bootstrap, sentinel_messages)
    expected = sum(
        1 for item in malformed for _, _, topic in stack.consumers if topic == item.message.topic
    )
    groups, others = await _dead_letters(
        plan,
        stack,
        infra=infra,
        console=console,
        letters_start=letters_start,
        malformed=malformed,
        sentinels=sentinels,
        expected=expected,
    )
    lettered = sum(group.dead_lettered for group in groups)
    ok = all(group.ok for group in groups)
    console.print(
        f"  {'[green]✓[/]' if ok else '[red]✗[/]'} kafka {len(malformed)} malformed messages on "
        f"{len(topics)} topics: {lettered}/{expected} dead-lettered by {len(groups)} consumer "
        f"groups; {len(sentinels)} sentinels; {len(others)} other dead letters",
        highlight=False,
    )
    return malformed, sentinels, groups, others, plain


async def _dead_letters(
    plan: FuzzPlan,
    stack: FuzzStack,
    *,
    infra: FuzzInfra,
    console: Console,
    letters_start: dict[Any, int],
    malformed: list[kafka_phase.Published],
    sentinels: list[kafka_phase.Published],
    expected: int,
) -> tuple[list[kafka_phase.GroupResult], list[kafka_phase.Letter]]:
    """Wait until every consumer group dead-lettered the malformed messages and processed
    its sentinel (or the timeout): the groups' results, and the other dead letters."""
    reader = kafka_phase.LetterReader(infra.bootstrap, letters_start)
    async with reader.opened():
        with console.status("kafka: waiting for the consumers") as status:

            def progress(results: list[kafka_phase.GroupResult]) -> None:
                lettered = sum(result.dead_lettered for result in results)
                processed = sum(1 for result in results if result.sentinel == "processed")
                waiting = sum(1 for result in results if result.sentinel != "none")
                caught_up = sum(1 for result in results if result.caught_up)
                status.update(
                    f"kafka: {lettered}/{expected} dead-lettered, sentinels processed "
                    f"{processed}/{waiting}, {caught_up}/{len(results)} groups caught up"
                )

            groups = await kafka_phase.wait_for_consumers(
                infra.bootstrap,
                stack.consumers,
                reader=reader,
                malformed=malformed,
                sentinels=sentinels,
                timeout_s=plan.kafka_timeout_s,
                on_progress=progress,
            )
        others = kafka_phase.other_letters(reader.letters, malformed=malformed, sentinels=sentinels)
    return groups, others


async def _form_phase(
    plan: FuzzPlan,
    stack: FuzzStack,
    *,
    sentinels: Sequence[kafka_phase.Published],
    output: Path,
    console: Console,
) -> list[FormResult]:
    anomaly = next(
        (item.message.value for item in sentinels if item.message.topic == anomalies.TOPIC.name),
        None,
    )
    with console.status("forms: the customer pages and the insights login"):
        targets = await form_targets(stack, subject_of(anomaly))
        results = await fuzz_forms(
            stack,
            targets,
            rng=random.Random(f"{plan.seed}:forms"),
            count=plan.form_cases,
            out_dir=output / "forms",
        )
    for target, result in zip(targets, results, strict=True):
        mark = "[green]✓[/]" if not result.failures else "[red]✗[/]"
        console.print(
            f"  {mark} form {result.target} (page {target.page_status}, fields "
            f"{sorted(target.base)}): {result.cases} cases, 4xx {result.count('4xx')}, 5xx "
            f"{result.count('5xx')}, unexpected answers {len(result.failures)}",
            highlight=False,
        )
    return results


async def _survivals(stack: FuzzStack, metrics_before: str) -> list[Survival]:
    metrics_after = await _metrics(stack)
    found = []
    async with httpx.AsyncClient(timeout=10) as client:
        for name in SERVICES:
            try:
                ready = await client.get(f"{stack.urls[name]}/ready")
                status, body = ready.status_code, ready.text
            except httpx.HTTPError as error:
                status, body = 0, str(error)
            found.append(
                survival(
                    name,
                    ready_status=status,
                    ready_body=body,
                    metrics_before=metrics_before,
                    metrics_after=metrics_after,
                )
            )
    return found
