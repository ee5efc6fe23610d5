"""The form phase: the customer pages and the insights login, reached with valid links.

The chat's conversation page is opened with a link signed for the anomaly the Kafka
phase's sentinel announced (so the chat knows it), its hidden inputs are read, then
every form case is posted to it; the survey, the unsubscribe page and the insights
login get the same cases. A link is signed with the run's link secret, exactly as the
notifier signs the links it emails.
"""

from __future__ import annotations

import asyncio
import random
import shlex
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from relais_cli.fuzz.form_cases import FormCase, form_cases, hidden_inputs
from relais_cli.fuzz.har import status_class
from relais_cli.fuzz.http import distinct_tracebacks
from relais_cli.fuzz.stack import FuzzStack
from relais_contracts.topics import anomalies
from relais_runtime.links import LinkPurpose, LinkSigner


@dataclass(frozen=True)
class FormTarget:
    name: str
    """e.g. `chat /c/<token>` (every case is a POST to the page)."""
    service: str
    url: str
    page_status: int
    """What GET of the same page answered before the cases (404: subject unknown)."""
    base: dict[str, str]


@dataclass
class FormResult:
    target: str
    service: str
    page_status: int
    cases: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)

    def count(self, status_class: str) -> int:
        return self.by_class.get(status_class, 0)


@dataclass(frozen=True)
class Subject:
    merchant_id: str
    anomaly_id: str
    shipment_id: str


def subject_of(sentinel_value: bytes | None) -> Subject | None:
    """The anomaly a sentinel of relais.anomalies.v1 announced."""
    if sentinel_value is None:
        return None
    event = anomalies.TOPIC.decode(sentinel_value)
    anomaly_id = getattr(event, "anomaly_id", None)
    if anomaly_id is None:
        return None
    return Subject(
        merchant_id=event.merchant_id,
        anomaly_id=str(anomaly_id),
        shipment_id=str(getattr(event, "shipment_id", "")),
    )


async def _page(client: httpx.AsyncClient, url: str) -> tuple[int, dict[str, str]]:
    try:
        response = await client.get(url)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, hidden_inputs(response.text)


async def form_targets(stack: FuzzStack, subject: Subject | None) -> list[FormTarget]:
    signer = LinkSigner(secrets=[stack.link_secret], max_age=timedelta(days=1))
    now = datetime.now(UTC)
    merchant = stack.merchant("fr")
    targets = []
    async with httpx.AsyncClient(timeout=30) as client:
        if subject is not None:
            for purpose, prefix, key in (
                (LinkPurpose.CHAT, "c", subject.anomaly_id),
                (LinkPurpose.SURVEY, "s", subject.shipment_id),
            ):
                token = signer.sign(
                    merchant_id=subject.merchant_id, purpose=purpose, subject=key, issued_at=now
                )
                url = f"{stack.urls['chat']}/{prefix}/{token}"
                status, base = await _page(client, url)
                targets.append(FormTarget(f"chat /{prefix}/<token>", "chat", url, status, base))
        token = signer.sign(
            merchant_id=merchant.merchant_id,
            purpose=LinkPurpose.UNSUBSCRIBE,
            subject="email:" + "0" * 64,
            issued_at=now,
        )
        url = f"{stack.urls['notifier']}/u/{token}"
        status, base = await _page(client, url)
        targets.append(FormTarget("notifier /u/<token>", "notifier", url, status, base))
        url = f"{stack.urls['insights']}/insights/{merchant.merchant_id}/login"
        status, base = await _page(client, url)
        targets.append(FormTarget("insights login", "insights", url, status, base))
    return targets


def reproducer(target: FormTarget, case: FormCase, body_file: Path) -> str:
    return " ".join(
        [
            "curl -X POST -H",
            shlex.quote(f"Content-Type: {case.content_type}"),
            "--data-binary",
            f"@{body_file}",
            shlex.quote(target.url),
        ]
    )


async def fuzz_forms(
    stack: FuzzStack,
    targets: list[FormTarget],
    *,
    rng: random.Random,
    count: int,
    out_dir: Path,
) -> list[FormResult]:
    results = []
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as client:
        for number, target in enumerate(targets):
            cases = form_cases(target.base, rng=rng, count=count, app_limit=stack.app_limit)
            result = FormResult(
                target=target.name, service=target.service, page_status=target.page_status
            )
            first_error = len(stack.errors.errors)
            classes: Counter[str] = Counter()
            for index, case in enumerate(cases):
                try:
                    response = await client.post(
                        target.url, content=case.body, headers={"Content-Type": case.content_type}
                    )
                    status, answer = response.status_code, response.text[:300]
                except httpx.HTTPError as error:
                    status, answer = 0, f"{type(error).__name__}: {error}"[:300]
                classes[status_class(status)] += 1
                if not case.expect.met_by(status):
                    body_file = out_dir / f"form-{number}-case-{index}.bin"
                    await asyncio.to_thread(_save, body_file, case.body)
                    result.failures.append(
                        {
                            "case": index,
                            "description": case.description,
                            "expected": case.expect.value,
                            "status": status,
                            "answer": answer,
                            "reproducer": reproducer(target, case, body_file),
                        }
                    )
            result.cases = len(cases)
            result.by_class = dict(classes)
            result.tracebacks = distinct_tracebacks(stack.errors.errors[first_error:])
            results.append(result)
    return results


def _save(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
