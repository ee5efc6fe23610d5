"""`relais fuzz`, the HTTP side's pure parts: the webhook cases, reading schemathesis's
HAR file, the schemathesis configuration, the services' survival and the report rows."""

from __future__ import annotations

import asyncio
import json
import random
import shlex
import tomllib
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from relais_cli.fuzz.form_cases import form_cases, hidden_inputs
from relais_cli.fuzz.har import curl_of, operation_for, operations_of, summarize_har
from relais_cli.fuzz.health import survival
from relais_cli.fuzz.http import HttpResult, HttpTarget, schemathesis_command, schemathesis_config
from relais_cli.fuzz.kafka import GroupResult, Letter, Published, group_results
from relais_cli.fuzz.messages import FuzzMessage
from relais_cli.fuzz.report import build_report, rows
from relais_cli.fuzz.webhook_cases import Expect, WebhookKind, stream_chunks, webhook_cases
from relais_cli.fuzz.webhooks import WebhookResult
from relais_tracker.adapters import carriers

OPENAPI: dict[str, Any] = {
    "paths": {
        "/v1/orders": {"post": {}},
        "/v1/orders/{order_id}": {"get": {}, "put": {}},
        "/v1/orders/{order_id}/cancel": {"post": {}},
        "/v1/orders/export": {"get": {}},
        "/health": {"get": {}, "parameters": []},
    }
}


def entry(method: str, url: str, status: int, *, body: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "headers": [
            {"name": "User-Agent", "value": "schemathesis/4"},
            {"name": "Authorization", "value": "[Filtered]"},
            {"name": "Content-Type", "value": "application/json"},
        ],
    }
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": body}
    return {"request": request, "response": {"status": status, "content": {"text": "oops"}}}


def test_webhook_cases_expect_413_beyond_the_limits_and_401_without_a_signature() -> None:
    cases = webhook_cases(
        list(carriers.ADAPTERS), rng=random.Random(1), limit=4096, app_limit=8192, per_carrier=2
    )
    huge = [case for case in cases if case.kind == WebhookKind.HUGE]
    unsigned = [case for case in cases if case.kind == WebhookKind.UNSIGNED]

    assert {case.carrier for case in cases} >= set(carriers.ADAPTERS)
    assert huge
    assert all(case.expect is Expect.TOO_LARGE and case.size > 4096 for case in huge)
    assert any(case.stream_bytes for case in huge)
    assert any(case.size > 8192 for case in huge)
    assert unsigned
    assert all(case.expect is Expect.UNAUTHORIZED and not case.signed for case in unsigned)
    assert (
        next(c for c in cases if c.kind == WebhookKind.UNKNOWN_CARRIER).expect is Expect.NOT_FOUND
    )


def test_webhook_cases_stay_under_the_limit_unless_they_test_it() -> None:
    cases = webhook_cases(
        ["dhl"], rng=random.Random(2), limit=256 * 1024, app_limit=1 << 20, per_carrier=5
    )

    for case in cases:
        if case.kind != WebhookKind.HUGE:
            assert case.size <= 256 * 1024, case.description
    nested = [case for case in cases if case.kind == WebhookKind.DEEPLY_NESTED]
    assert nested
    assert all(case.expect is Expect.CLIENT_ERROR for case in nested)
    assert all(
        json.loads(case.body) is not None for case in cases if case.kind == WebhookKind.WRONG_SHAPE
    )


def test_webhook_cases_are_the_same_for_the_same_seed() -> None:
    def build(seed: int) -> list[tuple[str, str, bytes]]:
        found = webhook_cases(
            ["gls", "dpd"], rng=random.Random(seed), limit=4096, app_limit=8192, per_carrier=3
        )
        return [(case.carrier, case.description, case.body) for case in found]

    assert build(4) == build(4)


def test_expectations() -> None:
    assert Expect.CLIENT_ERROR.met_by(400)
    assert Expect.CLIENT_ERROR.met_by(422)
    assert not Expect.CLIENT_ERROR.met_by(500)
    assert not Expect.CLIENT_ERROR.met_by(202)
    assert not Expect.CLIENT_ERROR.met_by(0)
    assert Expect.TOO_LARGE.met_by(413)
    assert not Expect.TOO_LARGE.met_by(400)


def test_stream_chunks_add_up() -> None:
    chunks = stream_chunks(200_000)

    assert sum(len(chunk) for chunk in chunks) == 200_000
    assert max(len(chunk) for chunk in chunks) <= 64 * 1024


def test_requests_are_attributed_to_operations_literal_paths_first() -> None:
    operations = operations_of(OPENAPI)

    assert (
        operation_for("GET", "http://h:1/v1/orders/export?x=1", operations)
        == "GET /v1/orders/export"
    )
    assert (
        operation_for("GET", "http://h:1/v1/orders/A%2FB", operations)
        == "GET /v1/orders/{order_id}"
    )
    assert operation_for("POST", "http://h:1/v1/orders/7/cancel", operations) == (
        "POST /v1/orders/{order_id}/cancel"
    )
    assert operation_for("DELETE", "http://h:1/v1/orders/7", operations) == "DELETE /v1/orders/7"


def test_har_summary_counts_classes_and_keeps_the_shortest_reproducer_per_error() -> None:
    har = {
        "log": {
            "entries": [
                entry("GET", "http://h:1/health", 200),
                entry("POST", "http://h:1/v1/orders", 422, body="{}"),
                entry("POST", "http://h:1/v1/orders", 500, body='{"order_id": "long-long-long"}'),
                entry("POST", "http://h:1/v1/orders", 500, body='{"a": 1}'),
                entry("GET", "http://h:1/v1/orders/1", 503),
            ]
        }
    }
    summary = summarize_har(har, operations_of(OPENAPI))

    assert summary.requests == 5
    assert dict(summary.by_class) == {"2xx": 1, "4xx": 1, "5xx": 3}
    assert summary.by_operation["POST /v1/orders"] == {"4xx": 1, "5xx": 2}
    assert [(e.operation, e.status, e.count) for e in summary.server_errors] == [
        ("GET /v1/orders/{order_id}", 503, 1),
        ("POST /v1/orders", 500, 2),
    ]
    assert '{"a": 1}' in summary.server_errors[1].reproducer


def test_curl_reproducer_names_masked_headers_by_variable_and_quotes_the_body() -> None:
    command = curl_of(entry("POST", "http://h:1/v1/orders?q=a b", 500, body='{"x": "it\'s"}'))
    words = shlex.split(command)

    assert words[:3] == ["curl", "-X", "POST"]
    assert "Authorization: $RELAIS_FUZZ_AUTHORIZATION" in words
    assert "Content-Type: application/json" in words
    assert "User-Agent: schemathesis/4" not in words
    assert words[words.index("--data-binary") + 1] == '{"x": "it\'s"}'
    assert words[-1] == "http://h:1/v1/orders?q=a b"


def test_schemathesis_config_holds_headers_and_parameters(tmp_path: Path) -> None:
    target = HttpTarget(
        "insights",
        "http://127.0.0.1:28006",
        headers={"Authorization": 'Bearer k"ey', "Cookie": "a=b"},
        parameters={"path.merchant_id": "maison-lumiere"},
    )
    parsed = tomllib.loads(schemathesis_config(target))

    assert parsed == {
        "headers": {"Authorization": 'Bearer k"ey', "Cookie": "a=b"},
        "parameters": {"path.merchant_id": "maison-lumiere"},
    }
    command = schemathesis_command(
        config_file=tmp_path / "c.toml",
        base_url=target.base_url,
        out_dir=tmp_path,
        seed=3,
        max_examples=5,
        phases=("examples", "fuzzing"),
    )
    assert "Bearer" not in " ".join(command)  # secrets stay in the config file
    assert command[command.index("--seed") + 1] == "3"
    assert command[command.index("--phases") + 1] == "examples,fuzzing"


METRICS_BEFORE = """
relais_loop_restarts_total{loop="outbox-relay",service="notifier"} 0.0
relais_loop_up{loop="outbox-relay",service="notifier"} 1.0
"""
METRICS_AFTER = """
relais_loop_restarts_total{loop="outbox-relay",service="notifier"} 0.0
relais_loop_restarts_total{loop="dispatcher",service="notifier"} 2.0
relais_loop_restarts_total{loop="sweeper",service="detector"} 1.0
relais_loop_up{loop="outbox-relay",service="notifier"} 1.0
relais_loop_up{loop="dispatcher",service="notifier"} 0.0
"""


def test_a_loop_restarted_or_down_during_the_run_counts_as_crashed() -> None:
    notifier = survival(
        "notifier",
        ready_status=200,
        ready_body="{}",
        metrics_before=METRICS_BEFORE,
        metrics_after=METRICS_AFTER,
    )
    tracker = survival(
        "tracker",
        ready_status=200,
        ready_body="{}",
        metrics_before=METRICS_BEFORE,
        metrics_after=METRICS_AFTER,
    )

    assert notifier.restarted_loops == {"dispatcher": 2.0}
    assert notifier.down_loops == ["dispatcher"]
    assert notifier.crashed_loops == 1
    assert not notifier.ok
    assert tracker.crashed_loops == 0
    assert tracker.ok


def published(topic: str, partition: int, offset: int, kind: str = "not_json") -> Published:
    message = FuzzMessage(topic=topic, kind=kind, description=kind, key=b"k", value=b"v")
    return Published(message=message, partition=partition, offset=offset)


def test_group_results_match_letters_by_group_and_position() -> None:
    topic = "relais.orders.v1"
    malformed = [published(topic, 0, 0), published(topic, 1, 0)]
    sentinels = [published(topic, 0, 1, kind="sentinel")]
    letters = [
        Letter(group="tracker.orders", position=(topic, 0, 0), kind="undecodable", reason="bad"),
        Letter(group="tracker.orders", position=(topic, 1, 0), kind="invalid", reason=""),
        Letter(group="insights.orders", position=(topic, 0, 0), kind="undecodable", reason="bad"),
        Letter(group="insights.orders", position=(topic, 0, 1), kind="invalid", reason="why"),
    ]
    ends = {TopicPartition(topic, 0): 2, TopicPartition(topic, 1): 1}
    committed = {
        ("tracker.orders", TopicPartition(topic, 0)): 2,
        ("tracker.orders", TopicPartition(topic, 1)): 1,
        ("insights.orders", TopicPartition(topic, 0)): 2,
    }
    tracker, insights = group_results(
        [("tracker", "tracker.orders", topic), ("insights", "insights.orders", topic)],
        malformed=malformed,
        sentinels=sentinels,
        letters=letters,
        committed_offsets=committed,
        ends=ends,
    )

    assert (tracker.expected, tracker.dead_lettered, tracker.without_reason) == (2, 2, 1)
    assert tracker.sentinel == "processed"
    assert tracker.caught_up
    assert not tracker.ok  # a letter without a reason
    assert insights.dead_lettered == 1
    assert len(insights.missing) == 1
    assert insights.sentinel.startswith("dead_lettered: invalid")
    assert not insights.caught_up  # nothing committed on partition 1
    assert insights.settled is False


def test_rows_and_report_pass_only_when_every_target_passed() -> None:
    http = [HttpResult(service="tracker", operations=4, requests=10, by_class={"4xx": 6, "2xx": 4})]
    webhooks = WebhookResult(cases=3, by_class={"4xx": 3}, accepted=0, published=0)
    group = GroupResult(
        service="tracker",
        group="tracker.orders",
        topic="relais.orders.v1",
        expected=1,
        dead_lettered=1,
        sentinel="processed",
        caught_up=True,
    )
    survivals = [
        survival("tracker", ready_status=200, ready_body="", metrics_before="", metrics_after="")
    ]
    found = rows(
        http=http,
        webhooks=webhooks,
        groups=[group],
        published=[published("relais.orders.v1", 0, 0)],
        survivals=survivals,
    )

    assert [row.target for row in found] == ["http tracker", "webhooks", "kafka orders.v1"]
    assert all(row.ok for row in found)
    assert found[2].dead_lettered == "1/1"
    report = build_report(
        meta={"seed": 1},
        http=http,
        webhooks=webhooks,
        forms=[],
        groups=[group],
        published=[published("relais.orders.v1", 0, 0)],
        sentinels=[],
        other_letters=[],
        plain_text_fields={},
        survivals=survivals,
        found_rows=found,
    )
    assert report["passed"] is True
    assert report["totals"]["kafka_dead_lettered_percent"] == 100.0
    json.dumps(report)

    http[0].by_class["5xx"] = 1
    failing = rows(http=http, webhooks=webhooks, groups=[group], published=[], survivals=survivals)
    assert not failing[0].ok


PAGE = """
<form method="post"><input type="hidden" name="node" value="ask_choice">
<input name="step" type="hidden" value="2"/><input type="text" name="text" value="typed">
<input type="hidden" name="node" value="second"></form>
"""


def test_hidden_inputs_are_read_from_the_page() -> None:
    assert hidden_inputs(PAGE) == {"node": "ask_choice", "step": "2"}


def test_form_cases_keep_the_page_inputs_and_expect_413_over_the_limit() -> None:
    base = {"node": "ask_choice", "step": "2"}
    cases = form_cases(base, rng=random.Random(3), count=20, app_limit=4096)
    urlencoded = [case for case in cases if case.content_type.endswith("urlencoded")]

    assert len(cases) > 20
    assert sum(b"node=ask_choice" in case.body for case in urlencoded) >= 15
    too_large = [case for case in cases if case.expect is Expect.TOO_LARGE]
    assert len(too_large) == 1
    assert len(too_large[0].body) > 2 * 4096
    others = [case for case in cases if case.expect is not Expect.TOO_LARGE]
    assert all(case.expect is Expect.NO_SERVER_ERROR for case in others)
    assert Expect.NO_SERVER_ERROR.met_by(422)
    assert not Expect.NO_SERVER_ERROR.met_by(500)
    assert [
        case.body for case in form_cases(base, rng=random.Random(3), count=20, app_limit=4096)
    ] == [case.body for case in cases]


async def test_a_stuck_task_is_reported_with_where_it_waits() -> None:
    from relais_cli.fuzz.stack import await_chain

    gate = asyncio.Event()

    async def inner_wait() -> None:
        await gate.wait()

    async def outer_loop() -> None:
        await inner_wait()

    task = asyncio.create_task(outer_loop())
    await asyncio.sleep(0)
    chain = await_chain(task.get_coro())
    gate.set()
    await task

    assert "outer_loop" in chain[0]
    assert any("inner_wait" in line for line in chain)
