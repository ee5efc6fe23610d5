"""The load generator of `relais bench pages`: wrk, or bombardier when wrk is missing,
each a compiled program in its own process, and the parsing of their output (pure)."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

WRK_INSTALL = "apt-get install wrk"
BOMBARDIER_MODULE = "github.com/codesenberg/bombardier@v1.2.6"
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
DURATION = re.compile(r"^([0-9.]+)(us|ms|s|m)$")


class LoadToolMissing(RuntimeError):
    """Neither wrk nor bombardier could be found or installed: the message says how."""


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    """Non-2xx/3xx answers, socket errors and timeouts."""
    tool_cpu_s: float = 0.0
    """CPU time (user + system) the load generator itself used: it is not the
    bottleneck while this stays well under its duration (one thread)."""


def duration_ms(text: str) -> float:
    """wrk's duration notation (`850.00us`, `4.20ms`, `1.02s`, `1.50m`) in ms."""
    found = DURATION.match(text.strip())
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * UNITS_MS[found.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """wrk's report with --latency: the percentile lines, the request count, Requests/sec,
    and the error lines when there are any."""
    percentiles = {
        int(m.group(1)): duration_ms(m.group(2))
        for m in re.finditer(r"^\s+(50|90|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.MULTILINE)
    }
    total = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.MULTILINE)
    if total is None or rate is None or set(percentiles) != {50, 90, 99}:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket:
        errors += sum(int(value) for value in socket.groups())
    return LoadResult(
        tool="wrk",
        requests=int(total.group(1)),
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles[50],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        errors=errors,
    )


def parse_bombardier(output: str) -> LoadResult:
    """bombardier's JSON report (-l -p r -o json): latencies are in microseconds."""
    result = json.loads(output)["result"]
    latency = result["latency"]["percentiles"]
    ok = int(result.get("req2xx", 0)) + int(result.get("req3xx", 0))
    failed = sum(int(result.get(key, 0)) for key in ("req1xx", "req4xx", "req5xx", "others"))
    return LoadResult(
        tool="bombardier",
        requests=ok + failed,
        requests_per_s=float(result["rps"]["mean"]),
        p50_ms=float(latency["50"]) / 1000,
        p90_ms=float(latency["90"]) / 1000,
        p99_ms=float(latency["99"]) / 1000,
        errors=failed,
    )


def go_bin() -> Path:
    return Path(
        os.environ.get("GOBIN") or Path(os.environ.get("GOPATH") or Path.home() / "go") / "bin"
    )


def find_tool(*, install: bool, say: object = print) -> tuple[str, str]:
    """("wrk" | "bombardier", its path): wrk first; when missing and `install`, install it
    (apt-get as root), else bombardier (on PATH, in Go's bin dir, or `go install`ed)."""
    wrk = shutil.which("wrk")
    if wrk is None and install and os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"wrk is missing: running `{WRK_INSTALL} -y`")  # type: ignore[operator]
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        wrk = shutil.which("wrk")
    if wrk is not None:
        return "wrk", wrk
    bombardier = shutil.which("bombardier") or _existing(go_bin() / "bombardier")
    go = shutil.which("go") or _existing(Path("/usr/local/go/bin/go"))
    if bombardier is None and install and go is not None:
        say(f"wrk is missing: running `go install {BOMBARDIER_MODULE}`")  # type: ignore[operator]
        subprocess.run([go, "install", BOMBARDIER_MODULE], check=False, capture_output=True)
        bombardier = _existing(go_bin() / "bombardier")
    if bombardier is not None:
        return "bombardier", bombardier
    raise LoadToolMissing(
        f"no load generator: install wrk (`{WRK_INSTALL}`, as root) or bombardier "
        f"(`go install {BOMBARDIER_MODULE}`)"
    )


def _existing(path: Path) -> str | None:
    return str(path) if path.is_file() else None


def run_load(tool: tuple[str, str], url: str, *, concurrency: int, duration_s: int) -> LoadResult:
    """One load of `url` at a fixed concurrency for `duration_s`, in the tool's process."""
    name, path = tool
    if name == "wrk":
        command = [path, "-t1", f"-c{concurrency}", f"-d{duration_s}s", "--latency", url]
    else:
        command = [
            path,
            "-c",
            str(concurrency),
            "-d",
            f"{duration_s}s",
            "-l",
            "-p",
            "r",
            "-o",
            "json",
            url,
        ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=duration_s + 60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}): {done.stderr or done.stdout}")
    result = parse_wrk(done.stdout) if name == "wrk" else parse_bombardier(done.stdout)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return replace(result, tool_cpu_s=cpu_s)
