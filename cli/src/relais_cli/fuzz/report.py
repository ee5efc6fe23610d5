"""The figures of a fuzz run: one row per target, a JSON report and a small HTML page.

Targets: `http <service>` (schemathesis), `webhooks` (carrier webhooks), `kafka <topic>`
(malformed messages on a consumed topic). Columns: cases sent, answers 4xx and 5xx
(HTTP targets), dead-lettered / expected (Kafka targets: one letter per consumer group
per message), crashed loops of the services behind the target, verdict.

A run passes when no HTTP answer is a 5xx, every webhook case got the answer it
expects and nothing was published for a refused call, every malformed message was
dead-lettered with a reason by every consumer group, every sentinel was processed,
every group caught up, and every service is ready with no loop restarted.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from relais_cli.fuzz.forms import FormResult
from relais_cli.fuzz.health import Survival
from relais_cli.fuzz.http import HttpResult
from relais_cli.fuzz.kafka import GroupResult, Letter, Published
from relais_cli.fuzz.stack import STOP_TIMEOUT_S
from relais_cli.fuzz.webhooks import WebhookResult


@dataclass(frozen=True)
class Row:
    target: str
    cases: int
    client_errors: str
    server_errors: str
    dead_lettered: str
    crashed_loops: int
    ok: bool
    note: str = ""


def _crashed(survivals: Sequence[Survival], services: set[str]) -> int:
    return sum(s.crashed_loops for s in survivals if s.service in services)


def rows(
    *,
    http: Sequence[HttpResult],
    webhooks: WebhookResult | None,
    forms: Sequence[FormResult] = (),
    groups: Sequence[GroupResult],
    published: Sequence[Published],
    survivals: Sequence[Survival],
    stuck_at_stop: Mapping[str, Sequence[str]] | None = None,
) -> list[Row]:
    found = [_http_row(result, survivals) for result in http]
    if webhooks is not None:
        found.append(_webhooks_row(webhooks, survivals))
    found.extend(_form_row(form, survivals) for form in forms)
    topics = list(dict.fromkeys(group.topic for group in groups))
    found.extend(_kafka_row(topic, groups, published, survivals) for topic in topics)
    found.extend(_stop_row(service, tasks) for service, tasks in (stuck_at_stop or {}).items())
    return found


def _http_row(result: HttpResult, survivals: Sequence[Survival]) -> Row:
    return Row(
        target=f"http {result.service}",
        cases=result.requests,
        client_errors=str(result.count("4xx")),
        server_errors=str(result.count("5xx")),
        dead_lettered="-",
        crashed_loops=_crashed(survivals, {result.service}),
        ok=result.count("5xx") == 0 and not result.problem and result.requests > 0,
        note=result.problem or f"{result.operations} ops",
    )


def _webhooks_row(webhooks: WebhookResult, survivals: Sequence[Survival]) -> Row:
    return Row(
        target="webhooks",
        cases=webhooks.cases,
        client_errors=str(webhooks.count("4xx")),
        server_errors=str(webhooks.count("5xx") + webhooks.count("none")),
        dead_lettered="-",
        crashed_loops=_crashed(survivals, {"tracker"}),
        ok=not webhooks.failures
        and webhooks.nothing_published_for_refused
        and webhooks.tracker_alive,
        note=f"{webhooks.accepted} accepted/{webhooks.published} published",
    )


def _form_row(form: FormResult, survivals: Sequence[Survival]) -> Row:
    return Row(
        target=f"form {form.target}",
        cases=form.cases,
        client_errors=str(form.count("4xx")),
        server_errors=str(form.count("5xx") + form.count("none")),
        dead_lettered="-",
        crashed_loops=_crashed(survivals, {form.service}),
        ok=not form.failures,
        note=f"page {form.page_status}",
    )


def _kafka_row(
    topic: str,
    groups: Sequence[GroupResult],
    published: Sequence[Published],
    survivals: Sequence[Survival],
) -> Row:
    """One topic: its malformed messages, dead-lettered by every consumer group of it."""
    mine = [group for group in groups if group.topic == topic]
    sent = sum(1 for item in published if item.message.topic == topic)
    expected = sum(group.expected for group in mine)
    lettered = sum(group.dead_lettered for group in mine)
    sentinels = [group.sentinel for group in mine if group.sentinel != "none"]
    processed = sum(1 for state in sentinels if state == "processed")
    note = f"sentinel {processed}/{len(sentinels)}" if sentinels else "no sentinel"
    return Row(
        target=f"kafka {topic.removeprefix('relais.')}",
        cases=sent,
        client_errors="-",
        server_errors="-",
        dead_lettered=f"{lettered}/{expected}",
        crashed_loops=_crashed(survivals, {group.service for group in mine}),
        ok=all(group.ok for group in mine),
        note=note,
    )


def _stop_row(service: str, tasks: Sequence[str]) -> Row:
    return Row(
        target=f"stop {service}",
        cases=0,
        client_errors="-",
        server_errors="-",
        dead_lettered="-",
        crashed_loops=0,
        ok=False,
        note=f"still stopping after {STOP_TIMEOUT_S:.0f} s, {len(tasks)} tasks pending",
    )


def table(found: Sequence[Row], survivals: Sequence[Survival]) -> Table:
    view = Table(title="relais fuzz")
    view.add_column("target", no_wrap=True)
    for column in ("cases", "4xx", "5xx", "dead-lettered/expected", "crashed loops"):
        view.add_column(column, justify="right")
    view.add_column("verdict")
    view.add_column("note", overflow="fold")
    for row in found:
        view.add_row(
            row.target,
            str(row.cases),
            row.client_errors,
            row.server_errors,
            row.dead_lettered,
            str(row.crashed_loops),
            "[green]ok[/]" if row.ok else "[red]FAIL[/]",
            row.note,
        )
    for survival in survivals:
        if not survival.ok:
            view.add_row(
                f"service {survival.service}",
                "-",
                "-",
                "-",
                "-",
                str(survival.crashed_loops),
                "[red]FAIL[/]",
                f"/ready {survival.ready_status}; restarted {sorted(survival.restarted_loops)}; "
                f"down {survival.down_loops}",
            )
    return view


def totals(
    *,
    http: Sequence[HttpResult],
    webhooks: WebhookResult | None,
    forms: Sequence[FormResult],
    groups: Sequence[GroupResult],
    published: Sequence[Published],
    survivals: Sequence[Survival],
) -> dict[str, Any]:
    expected = sum(group.expected for group in groups)
    lettered = sum(group.dead_lettered for group in groups)
    sentinels = [group.sentinel for group in groups if group.sentinel != "none"]
    return {
        "http_requests": sum(result.requests for result in http),
        "http_5xx": sum(result.count("5xx") for result in http),
        "http_distinct_server_errors": sum(len(result.server_errors) for result in http),
        "webhook_cases": webhooks.cases if webhooks else 0,
        "webhook_failures": len(webhooks.failures) if webhooks else 0,
        "webhook_5xx": (webhooks.count("5xx") + webhooks.count("none")) if webhooks else 0,
        "form_cases": sum(form.cases for form in forms),
        "form_failures": sum(len(form.failures) for form in forms),
        "kafka_malformed_messages": len(published),
        "kafka_dead_letters_expected": expected,
        "kafka_dead_lettered": lettered,
        "kafka_dead_lettered_percent": round(100 * lettered / expected, 2) if expected else None,
        "kafka_sentinels_processed": sum(1 for state in sentinels if state == "processed"),
        "kafka_sentinels_expected": len(sentinels),
        "crashed_loops": sum(survival.crashed_loops for survival in survivals),
        "services_not_ready": [s.service for s in survivals if s.ready_status != 200],
    }


def build_report(
    *,
    meta: dict[str, Any],
    http: Sequence[HttpResult],
    webhooks: WebhookResult | None,
    forms: Sequence[FormResult],
    groups: Sequence[GroupResult],
    published: Sequence[Published],
    sentinels: Sequence[Published],
    other_letters: Sequence[Letter],
    plain_text_fields: dict[str, list[str]],
    survivals: Sequence[Survival],
    found_rows: Sequence[Row],
) -> dict[str, Any]:
    kinds: dict[str, dict[str, int]] = {}
    for item in published:
        per_topic = kinds.setdefault(item.message.topic, {})
        per_topic[item.message.kind] = per_topic.get(item.message.kind, 0) + 1
    return {
        **meta,
        "passed": all(row.ok for row in found_rows) and all(s.ok for s in survivals),
        "totals": totals(
            http=http,
            webhooks=webhooks,
            forms=forms,
            groups=groups,
            published=published,
            survivals=survivals,
        ),
        "targets": [asdict(row) for row in found_rows],
        "http": [
            {**asdict(result), "server_errors": [asdict(e) for e in result.server_errors]}
            for result in http
        ],
        "webhooks": asdict(webhooks) if webhooks else None,
        "forms": [asdict(form) for form in forms],
        "kafka": {
            "malformed_by_topic_and_kind": kinds,
            "sentinels": [
                {
                    "topic": item.message.topic,
                    "description": item.message.description,
                    "partition": item.partition,
                    "offset": item.offset,
                }
                for item in sentinels
            ],
            "groups": [{**asdict(group), "ok": group.ok} for group in groups],
            "other_dead_letters": [asdict(letter) for letter in other_letters],
            "plain_text_fields": {
                name: found for name, found in plain_text_fields.items() if found
            },
        },
        "services": [{**asdict(s), "ok": s.ok} for s in survivals],
    }


def write_json(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    return path


def _cell(value: Any) -> str:
    return html.escape(str(value))


HEAD = (
    "target",
    "cases",
    "4xx",
    "5xx",
    "dead-lettered/expected",
    "crashed loops",
    "ok",
    "note",
)
"""The HTML page's table header."""
CELLS = ("target", "cases", "client_errors", "server_errors", "dead_lettered", "crashed_loops")
"""The row fields shown as they are, before the verdict and the note."""


def write_html(report: dict[str, Any], path: Path) -> Path:
    """One self-contained page: the targets table, then every failure found."""
    body_rows = "".join(_target_html(row) for row in report["targets"])
    failures = [
        *_http_failures(report["http"]),
        *_webhook_failures(report["webhooks"]),
        *_form_failures(report["forms"]),
        *_kafka_failures(report["kafka"]["groups"]),
        *_stop_failures(report.get("stuck_at_stop") or {}),
    ]
    verdict = "passed" if report["passed"] else "FAILED"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>relais fuzz: {verdict}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; }}
td.ok {{ color: #17692a; }} td.fail {{ color: #b00020; font-weight: bold; }}
pre {{ background: #f6f6f6; padding: .5rem; white-space: pre-wrap; word-break: break-all; }}
</style></head><body>
<h1>relais fuzz: {verdict}</h1>
<p>seed {_cell(report.get("seed"))}, started {_cell(report.get("started_at"))},
{_cell(report.get("seconds"))} s. Totals: <code>{_cell(json.dumps(report["totals"]))}</code></p>
<table><tr>{"".join(f"<th>{h}</th>" for h in HEAD)}</tr>{body_rows}</table>
<h2>Failures</h2><ul>{"".join(failures) or "<li>none</li>"}</ul>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path


def _target_html(row: dict[str, Any]) -> str:
    return (
        "<tr>"
        + "".join(f"<td>{_cell(row[key])}</td>" for key in CELLS)
        + f"<td class={'ok' if row['ok'] else 'fail'}>{'ok' if row['ok'] else 'FAIL'}</td>"
        + f"<td>{_cell(row['note'])}</td></tr>"
    )


def _http_failures(results: list[dict[str, Any]]) -> list[str]:
    failures = []
    for result in results:
        for error in result["server_errors"]:
            failures.append(
                f"<li><b>{_cell(result['service'])}</b> {_cell(error['operation'])} → "
                f"{error['status']} ({error['count']} requests)"
                f"<pre>{_cell(error['reproducer'])}</pre>"
                f"<pre>{_cell(error['response'])}</pre></li>"
            )
        for trace in result["tracebacks"]:
            failures.append(
                f"<li>{_cell(result['service'])} traceback<pre>{_cell(trace)}</pre></li>"
            )
    return failures


def _webhook_failures(webhooks: dict[str, Any] | None) -> list[str]:
    return [
        f"<li><b>webhook</b> {_cell(failure['carrier'])} {_cell(failure['description'])}: "
        f"{failure['status']} (expected {failure['expected']})"
        f"<pre>{_cell(failure['reproducer'])}</pre></li>"
        for failure in (webhooks or {}).get("failures", [])
    ]


def _form_failures(forms: list[dict[str, Any]]) -> list[str]:
    failures = []
    for form in forms:
        for failure in form["failures"]:
            failures.append(
                f"<li><b>form</b> {_cell(form['target'])} {_cell(failure['description'])}: "
                f"{failure['status']} (expected {failure['expected']})"
                f"<pre>{_cell(failure['reproducer'])}</pre></li>"
            )
        for trace in form["tracebacks"]:
            failures.append(f"<li>{_cell(form['target'])} traceback<pre>{_cell(trace)}</pre></li>")
    return failures


def _kafka_failures(groups: list[dict[str, Any]]) -> list[str]:
    return [
        f"<li><b>kafka</b> {_cell(group['group'])} on {_cell(group['topic'])}: "
        f"{group['dead_lettered']}/{group['expected']} dead-lettered, sentinel "
        f"{_cell(group['sentinel'])}, caught up {group['caught_up']}"
        f"<pre>{_cell(json.dumps(group['missing'][:20], indent=1))}</pre></li>"
        for group in groups
        if not group["ok"]
    ]


def _stop_failures(stuck_at_stop: dict[str, list[str]]) -> list[str]:
    return [
        f"<li><b>stop</b> {_cell(service)} still stopping after {STOP_TIMEOUT_S:.0f} s; "
        f"pending tasks:<pre>{_cell(chr(10).join(tasks))}</pre></li>"
        for service, tasks in stuck_at_stop.items()
    ]


def show(console: Console, found: Sequence[Row], survivals: Sequence[Survival]) -> None:
    console.print(table(found, survivals))
