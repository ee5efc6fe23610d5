"""Every service's HTTP API fuzzed from its own OpenAPI document with schemathesis.

Rules:
- schemathesis runs as a subprocess (`python -m schemathesis.cli run`), one service at a
  time, with the `not_a_server_error` check only: what is counted is what the service
  answered, read back from the HAR file schemathesis writes (every request it made);
- headers a service needs (the merchant's API key as `Authorization: Bearer`, the
  insights dashboard's session cookie) and fixed path parameters (the merchant whose
  key is sent) go to a schemathesis.toml written in the run's state dir, never on the
  command line nor in the report (schemathesis masks them in its own reports);
- a server error is listed once per (operation, status) with a curl reproducer and the
  tracebacks the service logged while schemathesis ran.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from relais_cli.fuzz.har import ServerError, operations_of, summarize_har
from relais_cli.fuzz.stack import CapturedError, ErrorCapture

TRACEBACKS_KEPT = 10
TRACEBACK_LINES = 40
"""The end of a traceback kept in the report (the framework's frames come first)."""


@dataclass(frozen=True)
class HttpTarget:
    service: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)
    """schemathesis parameter overrides, e.g. {"path.merchant_id": "maison-lumiere"}."""


@dataclass
class HttpResult:
    service: str
    operations: int = 0
    requests: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    by_operation: dict[str, dict[str, int]] = field(default_factory=dict)
    server_errors: list[ServerError] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    exit_code: int | None = None
    seconds: float = 0.0
    problem: str = ""
    """Why schemathesis could not test (no schema, crashed, timed out), else empty."""
    output: str = ""
    """Where schemathesis's own output (with its reproducers) is."""

    def count(self, status_class: str) -> int:
        return self.by_class.get(status_class, 0)


def _toml_string(value: str) -> str:
    return json.dumps(value)


def schemathesis_config(target: HttpTarget) -> str:
    """The schemathesis.toml of one target (headers and parameter overrides)."""
    lines = []
    if target.headers:
        pairs = ", ".join(
            f"{_toml_string(name)} = {_toml_string(value)}"
            for name, value in target.headers.items()
        )
        lines.append(f"headers = {{ {pairs} }}")
    if target.parameters:
        lines.append("[parameters]")
        lines += [
            f"{_toml_string(name)} = {_toml_string(value)}"
            for name, value in target.parameters.items()
        ]
    return "\n".join(lines) + "\n"


def schemathesis_command(
    *,
    config_file: Path,
    base_url: str,
    out_dir: Path,
    seed: int,
    max_examples: int,
    phases: Sequence[str],
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "--config-file",
        str(config_file),
        "run",
        f"{base_url}/openapi.json",
        "--url",
        base_url,
        "--checks",
        "not_a_server_error",
        "--continue-on-failure",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--phases",
        ",".join(phases),
        "--workers",
        "1",
        "--request-timeout",
        "15",
        "--suppress-health-check",
        "all",
        "--generation-database",
        "none",
        "--report",
        "har,json",
        "--report-dir",
        str(out_dir),
        "--report-har-path",
        str(out_dir / "requests.har.json"),
        "--report-json-path",
        str(out_dir / "schemathesis.json"),
    ]


def distinct_tracebacks(
    errors: Sequence[CapturedError], *, limit: int = TRACEBACKS_KEPT
) -> list[str]:
    """One traceback per distinct final line (exception type and message), oldest first,
    each cut to its last TRACEBACK_LINES lines."""
    seen: dict[str, str] = {}
    for error in errors:
        lines = error.traceback.strip().splitlines()
        last = lines[-1] if lines else error.message
        seen.setdefault(last, "\n".join(lines[-TRACEBACK_LINES:]))
    return list(seen.values())[:limit]


async def _openapi(base_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=15) as client:
        response = await client.get(f"{base_url}/openapi.json")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document


async def fuzz_http(
    target: HttpTarget,
    *,
    out_dir: Path,
    config_dir: Path,
    seed: int,
    max_examples: int,
    phases: Sequence[str],
    errors: ErrorCapture,
    timeout_s: float,
) -> HttpResult:
    """Run schemathesis against one service and read what happened."""
    if not out_dir.is_absolute():
        raise ValueError(f"{out_dir}: schemathesis runs in it, the path must be absolute")
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = HttpResult(service=target.service)
    try:
        document = await _openapi(target.base_url)
    except (httpx.HTTPError, ValueError) as error:
        result.problem = f"no OpenAPI document at {target.base_url}/openapi.json: {error}"
        return result
    operations = operations_of(document)
    result.operations = len(operations)
    config_file = config_dir / f"schemathesis-{target.service}.toml"
    output_file = out_dir / "schemathesis.txt"
    await asyncio.to_thread(
        _write_inputs, out_dir, config_file, document, schemathesis_config(target)
    )
    command = schemathesis_command(
        config_file=config_file,
        base_url=target.base_url,
        out_dir=out_dir,
        seed=seed,
        max_examples=max_examples,
        phases=phases,
    )
    first_error = len(errors.errors)
    with output_file.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=out_dir, stdout=output, stderr=asyncio.subprocess.STDOUT
        )
        try:
            result.exit_code = await asyncio.wait_for(process.wait(), timeout=timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            result.problem = f"schemathesis did not finish within {timeout_s:.0f} s"
    result.seconds = loop.time() - started
    result.output = str(output_file)
    result.tracebacks = distinct_tracebacks(errors.errors[first_error:])
    har_file = out_dir / "requests.har.json"
    har = await asyncio.to_thread(_read_json, har_file)
    if har is None:
        result.problem = result.problem or f"schemathesis wrote no HAR file (see {output_file})"
        return result
    summary = summarize_har(har, operations)
    result.requests = summary.requests
    result.by_class = dict(summary.by_class)
    result.by_operation = {label: dict(counts) for label, counts in summary.by_operation.items()}
    result.server_errors = summary.server_errors
    if result.exit_code not in (0, 1) and not result.problem:
        result.problem = f"schemathesis exited with {result.exit_code} (see {output_file})"
    return result


def _write_inputs(out_dir: Path, config_file: Path, document: dict[str, Any], config: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(config)
    config_file.chmod(0o600)
    (out_dir / "openapi.json").write_text(json.dumps(document, indent=2))


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None
