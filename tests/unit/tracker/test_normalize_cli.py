"""`relais normalize CARRIER FILE`, run as the real command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from relais_tracker.adapters.carriers import ADAPTERS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"
REQUIRED = {
    "status",
    "substatus",
    "incident",
    "occurred_at",
    "description",
    "location",
    "carrier_code",
    "code_recognized",
    "estimated_delivery",
}


def _relais(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "relais_cli.main", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_prints_one_json_line_per_event_equal_to_the_expectation() -> None:
    payload = FIXTURES / "fedex" / "delivery_exceptions_return.json"

    result = _relais("normalize", "fedex", str(payload))

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    expected = payload.with_name(payload.stem + ".expected.jsonl").read_text().splitlines()
    assert lines == [json.loads(line) for line in expected]
    assert all(set(line) >= REQUIRED for line in lines)
    assert lines[1]["incident"] == {"reason": "recipient_not_available", "fault": "recipient"}
    assert lines[1]["occurred_at"] == "2026-10-07T12:30:00+02:00"


def test_reads_stdin_and_logs_unknown_codes_on_stderr_only() -> None:
    payload = (FIXTURES / "gls" / "parcelshop_not_picked_up.json").read_bytes()

    result = _relais("normalize", "gls", "-", stdin=payload)

    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [record["code_recognized"] for record in records] == [True, False, True, True]
    assert "unknown carrier code" in result.stderr.decode()
    assert "4.40" in result.stderr.decode()


def test_an_unparseable_payload_exits_2_with_one_line_saying_why() -> None:
    payload = b'{"trackResponse": {"shipment": "oops"}}'

    result = _relais("normalize", "ups", "-", stdin=payload)

    assert result.returncode == 2
    assert result.stdout == b""
    message = result.stderr.decode().strip()
    assert len(message.splitlines()) == 1
    assert "ups payload rejected" in message
    assert "shipment: expected a list, got text" in message


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = _relais("normalize", "dhl", str(tmp_path / "absent.json"))

    assert result.returncode == 2
    assert "cannot read" in result.stderr.decode()


def test_an_unknown_carrier_exits_2_listing_the_known_ones() -> None:
    result = _relais("normalize", "pigeon", "-", stdin=b"{}")

    assert result.returncode == 2
    message = result.stderr.decode().strip()
    assert len(message.splitlines()) == 1
    assert "unknown carrier 'pigeon'" in message
    assert all(carrier in message for carrier in ADAPTERS)
