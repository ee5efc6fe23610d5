"""What schemathesis sent and got back, read from its HAR file: requests by operation and
status class, and each distinct server error with a curl command that reproduces it.

Rules:
- every HAR entry is one request schemathesis made (test cases and their shrinking);
- a request is attributed to the OpenAPI operation whose path template matches its
  path (literal templates before templated ones), else to `<METHOD> <path>`;
- a server error is any status >= 500; errors are distinct per (operation, status),
  the shortest request of each is kept as the reproducer;
- secrets: schemathesis writes sanitized headers as `[Filtered]`; the reproducer
  names an environment variable in their place (`$RELAIS_FUZZ_AUTHORIZATION`...);
- nothing here does I/O.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

SKIPPED_HEADERS: Final = frozenset(
    {
        "user-agent",
        "accept-encoding",
        "accept",
        "connection",
        "content-length",
        "x-schemathesis-testcaseid",
        "host",
    }
)
FILTERED: Final = "[Filtered]"
METHODS: Final = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    pattern: re.Pattern[str]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def operations_of(openapi: Mapping[str, Any]) -> list[Operation]:
    """The document's operations, literal paths first."""
    found = []
    for path, item in (openapi.get("paths") or {}).items():
        parts = re.split(r"(\{[^}/]+\})", path)
        regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
        for method in item:
            if method.lower() in METHODS:
                found.append(
                    Operation(method=method.upper(), path=path, pattern=re.compile(f"^{regex}$"))
                )
    return sorted(found, key=lambda operation: (operation.path.count("{"), operation.path))


def operation_for(method: str, url: str, operations: list[Operation]) -> str:
    path = urlsplit(url).path or "/"
    for operation in operations:
        if operation.method == method.upper() and operation.pattern.match(path):
            return operation.label
    return f"{method.upper()} {path}"


def status_class(status: int) -> str:
    """`2xx`, `4xx`, `5xx`...; 0 (no response: connection dropped) is `none`."""
    return f"{status // 100}xx" if status >= 100 else "none"


def env_name(header: str) -> str:
    return "RELAIS_FUZZ_" + re.sub(r"[^A-Z0-9]+", "_", header.upper()).strip("_")


def curl_of(entry: Mapping[str, Any]) -> str:
    """A curl command sending the entry's request again."""
    request = entry["request"]
    parts = ["curl", "-X", request["method"]]
    for header in request.get("headers") or ():
        name, value = header["name"], header["value"]
        if name.lower() in SKIPPED_HEADERS:
            continue
        if value == FILTERED:
            parts += ["-H", f'"{name}: ${env_name(name)}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = (request.get("postData") or {}).get("text")
    if body:
        parts += ["--data-binary", shlex.quote(body)]
    parts.append(shlex.quote(request["url"]))
    return " ".join(parts)


@dataclass
class ServerError:
    operation: str
    status: int
    count: int
    reproducer: str
    response: str


@dataclass
class HarSummary:
    requests: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    by_operation: dict[str, Counter[str]] = field(default_factory=dict)
    server_errors: list[ServerError] = field(default_factory=list)

    def count(self, status_class: str) -> int:
        return self.by_class.get(status_class, 0)


def summarize_har(har: Mapping[str, Any], operations: list[Operation]) -> HarSummary:
    summary = HarSummary()
    errors: dict[tuple[str, int], ServerError] = {}
    for entry in (har.get("log") or {}).get("entries") or ():
        request, response = entry["request"], entry.get("response") or {}
        status = int(response.get("status") or 0)
        label = operation_for(request["method"], request["url"], operations)
        kind = status_class(status)
        summary.requests += 1
        summary.by_class[kind] += 1
        summary.by_operation.setdefault(label, Counter())[kind] += 1
        if status >= 500 or status == 0:
            reproducer = curl_of(entry)
            text = str((response.get("content") or {}).get("text") or "")[:500]
            found = errors.get((label, status))
            if found is None:
                errors[(label, status)] = ServerError(
                    operation=label, status=status, count=1, reproducer=reproducer, response=text
                )
            else:
                found.count += 1
                if len(reproducer) < len(found.reproducer):
                    found.reproducer, found.response = reproducer, text
    summary.server_errors = sorted(
        errors.values(), key=lambda error: (error.operation, error.status)
    )
    return summary
