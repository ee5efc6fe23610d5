"""The carrier webhook phase: send every case, check each answer, and check that Kafka
received exactly one carrier update per accepted call (none for the refused ones).

A failure is an answer the case does not expect (a 5xx, a dropped connection, a 2xx for
a body that cannot be a carrier payload...). Its body is saved next to the report and
its reproducer is a curl command signing it as the run did.
"""

from __future__ import annotations

import asyncio
import shlex
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from relais_cli.fuzz.har import status_class
from relais_cli.fuzz.http import distinct_tracebacks
from relais_cli.fuzz.kafka import end_offsets, total
from relais_cli.fuzz.stack import FuzzStack
from relais_cli.fuzz.webhook_cases import WebhookCase, stream_chunks
from relais_contracts.topics import carrier_updates

TOPIC = carrier_updates.TOPIC.name


@dataclass
class WebhookResult:
    cases: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    accepted: int = 0
    published: int = 0
    """Carrier updates that reached the topic during the phase."""
    failures: list[dict[str, Any]] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    tracker_alive: bool = True

    def count(self, status_class: str) -> int:
        return self.by_class.get(status_class, 0)

    @property
    def nothing_published_for_refused(self) -> bool:
        return self.published == self.accepted


async def _chunks(total_bytes: int) -> AsyncIterator[bytes]:
    for chunk in stream_chunks(total_bytes):
        yield chunk


async def send(client: httpx.AsyncClient, stack: FuzzStack, case: WebhookCase) -> tuple[int, str]:
    """(status, short answer); status 0 when no answer came back."""
    headers = {"Content-Type": case.content_type}
    if case.signed and not case.stream_bytes:
        headers.update(stack.sign(case.body))
    url = f"{stack.urls['tracker']}/webhooks/carriers/{case.carrier}"
    content: bytes | AsyncIterator[bytes] = (
        _chunks(case.stream_bytes) if case.stream_bytes else case.body
    )
    try:
        response = await client.post(url, content=content, headers=headers)
    except httpx.HTTPError as error:
        return 0, f"{type(error).__name__}: {error}"[:300]
    return response.status_code, response.text[:300]


def reproducer(stack: FuzzStack, case: WebhookCase, body_file: Path) -> str:
    url = f"{stack.urls['tracker']}/webhooks/carriers/{case.carrier}"
    parts = ["curl", "-X", "POST", "-H", shlex.quote(f"Content-Type: {case.content_type}")]
    if case.signed:
        for name, value in stack.sign(case.body).items():
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if case.stream_bytes:
        parts += ["-H", "'Transfer-Encoding: chunked'", "--data-binary", f"@{body_file}"]
    else:
        parts += ["--data-binary", f"@{body_file}"]
    parts.append(shlex.quote(url))
    return " ".join(parts)


async def fuzz_webhooks(
    stack: FuzzStack, cases: list[WebhookCase], *, bootstrap: str, out_dir: Path, on_case: Any
) -> WebhookResult:
    result = WebhookResult(cases=len(cases))
    before = total(await end_offsets(bootstrap, [TOPIC]), TOPIC)
    first_error = len(stack.errors.errors)
    classes: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=30) as client:
        for index, case in enumerate(cases):
            status, answer = await send(client, stack, case)
            kind = status_class(status)
            classes[kind] += 1
            result.by_kind.setdefault(case.kind, {})
            result.by_kind[case.kind][kind] = result.by_kind[case.kind].get(kind, 0) + 1
            if 200 <= status < 300:
                result.accepted += 1
            if not case.expect.met_by(status):
                body_file = out_dir / f"webhook-case-{index}.bin"
                await asyncio.to_thread(_save, body_file, case)
                result.failures.append(
                    {
                        "case": index,
                        "kind": case.kind,
                        "carrier": case.carrier,
                        "description": case.description,
                        "size": case.size,
                        "expected": case.expect.value,
                        "status": status,
                        "answer": answer,
                        "reproducer": reproducer(stack, case, body_file),
                    }
                )
            on_case(index + 1, status)
        try:
            health = await client.get(f"{stack.urls['tracker']}/health")
            result.tracker_alive = health.status_code == 200
        except httpx.HTTPError:
            result.tracker_alive = False
    result.by_class = dict(classes)
    result.tracebacks = distinct_tracebacks(stack.errors.errors[first_error:])
    after = total(await end_offsets(bootstrap, [TOPIC]), TOPIC)
    result.published = after - before
    return result


def _save(path: Path, case: WebhookCase) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b" " * case.stream_bytes if case.stream_bytes else case.body)
