"""The pure parts of `relais bench journey` and `relais bench pages`: percentiles,
the webhook schedule, matching an email to its order, wrk/bombardier output, VmHWM."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest

from relais_cli.bench import journey_plan as plan
from relais_cli.bench.journey_report import p99_target
from relais_cli.bench.journey_stack import total_consumer_lag
from relais_cli.bench.memory import parse_vm_hwm_kb
from relais_cli.bench.pages_load import duration_ms, parse_bombardier, parse_wrk
from relais_cli.bench.sender import Job, send_open_loop
from relais_cli.bench.stats import Spread, percentile

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:40000/c/abc
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.34ms    1.20ms  31.02ms   90.00%
    Req/Sec     2.41k   150.00     2.60k    80.00%
  Latency Distribution
     50%    3.10ms
     75%    3.60ms
     90%    4.20ms
     99%    1.02s
  12034 requests in 5.00s, 40.12MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   2406.80
Transfer/sec:      8.02MB
"""


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 0.9) == 9.0
    assert percentile(values, 0.99) == 10.0
    assert percentile([7.0], 0.99) == 7.0
    spread = Spread.of([0.3, 0.1, 0.2])
    assert (spread.count, spread.p50, spread.max) == (3, 0.2, 0.3)
    assert Spread.of([]).p99 != Spread.of([]).p99  # NaN for no values


def test_schedule_is_fixed_and_one_email_per_order() -> None:
    steps = plan.schedule(rate=200, duration_s=2, per_order=5)
    assert len(steps) == 400
    assert [s.at_s for s in steps[:3]] == [0.0, 0.005, 0.01]
    anomalies = [s for s in steps if s.anomaly]
    assert len(anomalies) == 80
    assert len({s.order for s in anomalies}) == 80
    assert all(s.step == 4 for s in anomalies)
    # each order's events come in a row, the failed attempt last
    assert [s.step for s in steps if s.order == 7] == [0, 1, 2, 3, 4]
    assert plan.events_per_order(0.2) == 5
    assert plan.events_per_order(1.0) == 1


def test_failed_attempt_payload_and_order_ids() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    step = plan.schedule(rate=10, duration_s=1, per_order=5)[4]
    payload = plan.scan_payload(run="AB12", rate_index=1, step=step, per_order=5, now=now)
    event = payload["events"][0]  # type: ignore[index]
    assert event["substatus"] == plan.FAILED_ATTEMPT
    assert event["incident"] == {"reason": plan.FAILED_ATTEMPT_REASON}
    assert datetime.fromisoformat(event["occurred_at"]) < now
    assert payload["tracking_number"] == plan.tracking_number("AB12", 1, step.order)
    ordinary = plan.scan_payload(
        run="AB12",
        rate_index=1,
        step=plan.schedule(rate=10, duration_s=1, per_order=5)[0],
        per_order=5,
        now=now,
    )
    assert "incident" not in ordinary["events"][0]  # type: ignore[index]


def test_an_email_is_matched_to_its_order_by_recipient() -> None:
    key = plan.order_id("AB12", 0, 42).lower()
    head = (
        b"X-Relais-Envelope-From: bonjour@maison-lumiere.example\n"
        b"X-Relais-Envelope-To: " + key.encode() + b"@example.com\n"
        b"Subject: =?utf-8?q?Livraison_manqu=C3=A9e?=\n\n"
    )
    assert plan.mail_order_key(head) == key
    assert plan.mail_order_key(b"X-Relais-Envelope-To: someone@elsewhere.org\n\n") is None
    assert plan.mail_order_key(b"Subject: no envelope\n\n") is None


def test_p99_targets_by_rate() -> None:
    assert p99_target(50) is None
    assert p99_target(200) == 0.5
    assert p99_target(350) == 0.5
    assert p99_target(500) == 1.0


def test_wrk_output_is_parsed() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 12034
    assert result.requests_per_s == 2406.8
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (3.1, 4.2, 1020.0)
    assert result.errors == 7
    assert duration_ms("850.00us") == pytest.approx(0.85)
    assert duration_ms("1.50m") == 90_000.0
    with pytest.raises(ValueError, match="unexpected wrk output"):
        parse_wrk("Running 5s test\n  0 requests in 5.00s\n")


def test_bombardier_json_is_parsed() -> None:
    output = json.dumps(
        {
            "result": {
                "req1xx": 0,
                "req2xx": 990,
                "req3xx": 0,
                "req4xx": 0,
                "req5xx": 10,
                "others": 0,
                "latency": {"mean": 3000, "percentiles": {"50": 2500, "90": 4000, "99": 9000}},
                "rps": {"mean": 199.5},
            }
        }
    )
    result = parse_bombardier(output)
    assert (result.requests, result.errors, result.requests_per_s) == (1000, 10, 199.5)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (2.5, 4.0, 9.0)


def test_vm_hwm_is_read_in_kilobytes() -> None:
    status = "Name:\tpython\nVmPeak:\t  300000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 100000 kB\n"
    assert parse_vm_hwm_kb(status) == 123456
    assert parse_vm_hwm_kb("Name:\tkthreadd\n") is None


def test_the_sender_keeps_its_schedule_whatever_the_answers() -> None:
    """A server that answers each request only after 300 ms must not slow the sender:
    the 10 requests due over 90 ms all go out on time (open loop)."""

    async def scenario() -> list[float]:
        async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while await reader.readuntil(b"\r\n\r\n"):
                    await asyncio.sleep(0.3)
                    writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok")
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        jobs = [Job(i * 0.01, "/x", b"", ()) for i in range(10)]
        async with server:
            sent = await send_open_loop(
                host="127.0.0.1",
                port=port,
                jobs=jobs,
                start_wall=time.time() + 0.1,
                connections=16,
            )
        assert all(s is not None and s.status == 202 for s in sent)
        return [s.late_s for s in sent if s is not None]

    late = asyncio.run(scenario())
    assert max(late) < 0.05


def test_total_consumer_lag_sums_every_partition_of_every_group() -> None:
    exposition = "\n".join(
        [
            "# HELP relais_consumer_lag Messages behind",
            "# TYPE relais_consumer_lag gauge",
            'relais_consumer_lag{group="insights.orders",partition="0",topic="t"} 12.0',
            'relais_consumer_lag{group="insights.orders",partition="1",topic="t"} 0.0',
            'relais_consumer_lag{group="chat.tracking-events",partition="4",topic="u"} 3.0',
            'relais_consumer_lag_other{group="x"} 100.0',
        ]
    )
    assert total_consumer_lag(exposition) == 15.0
    assert total_consumer_lag("") == 0.0
