"""Real traffic for a chaos run: orders, carrier webhooks, chat answers, a merchant endpoint.

Rules:
- orders go to the tracker's order API and every carrier scan to its carrier's webhook in
  that carrier's own format, signed with the run's credentials (the demo's day of
  traffic: relais_cli.demo), each when the run's virtual clock reaches it;
- like a real carrier or shop, a call that is not answered 202 (5xx, timeout, refused
  connection while the tracker restarts or Kafka is down) is sent again, with backoff,
  until it is accepted or `give_up_s` passes; what was accepted is what the verifier
  expects downstream;
- customers open a seeded share of the chat links they receive by email and answer over
  HTTP (GET the page, POST the choice, follow the 303), preferring the choices that end
  in an action (reship, refund, store credit...); a page that asks for a form is left;
- the merchant stub verifies each action webhook's signature and records every call;
  seeded, it answers 503 without acting, or acts then answers too late (after the
  caller's timeout, so the caller retries an action that happened); a repeated
  Idempotency-Key gets the first answer again and is never acted on twice.
"""

from __future__ import annotations

import email
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from relais_cli.demo.story import CarrierCall, DayOfTraffic, OrderCall
from relais_cli.demo_cmd import carrier_headers
from relais_contracts.webhooks import SignatureError, verify_signature
from relais_runtime.clock import ScaledClock

# merchant stub


@dataclass(frozen=True)
class StubCall:
    at_s: float
    key: str
    merchant_id: str
    status: int
    """The status the stub answered (what the caller saw, unless it had timed out)."""
    outcome: str
    """acted, replayed, refused_503, acted_slow, bad_signature, unknown_merchant."""


@dataclass(frozen=True)
class StubAction:
    key: str
    merchant_id: str
    shipment_id: str
    action: str
    automatic: bool | None
    first_at_s: float


class ChaosMerchantStub:
    """The merchants' systems: signed action webhooks in, seeded failures out."""

    def __init__(
        self,
        *,
        seed: int,
        error_rate: float,
        slow_rate: float,
        slow_s: float,
        origin: float,
    ) -> None:
        self.secrets: dict[str, str] = {}
        self.origin = origin
        self.error_rate = error_rate
        self.slow_rate = slow_rate
        self.slow_s = slow_s
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.answers: dict[str, bytes] = {}
        self.actions: dict[str, StubAction] = {}
        """Acted on, by Idempotency-Key (each acted on once, by construction)."""
        self.calls: list[StubCall] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                merchant = self.path.strip("/").split("/")[0]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, delay = stub.answer(
                    merchant=merchant,
                    header=self.headers.get("Relais-Signature", ""),
                    key=self.headers.get("Idempotency-Key", ""),
                    body=body,
                )
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    return  # the caller timed out and went away

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def now(self) -> float:
        return time.monotonic() - self.origin

    def url(self, merchant_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{merchant_id}/actions"

    def answer(
        self, *, merchant: str, header: str, key: str, body: bytes
    ) -> tuple[int, bytes, float]:
        secret = self.secrets.get(merchant)
        with self.lock:
            if secret is None:
                self._record(key, merchant, 404, "unknown_merchant")
                return 404, b'{"message": "unknown merchant"}', 0.0
            try:
                verify_signature(secret.encode(), header, body, datetime.now(UTC))
            except SignatureError as error:
                self._record(key, merchant, 401, "bad_signature")
                return 401, json.dumps({"message": str(error)}).encode(), 0.0
            if key in self.answers:
                self._record(key, merchant, 200, "replayed")
                return 200, self.answers[key], 0.0
            roll = self.rng.random()
            if roll < self.error_rate:
                self._record(key, merchant, 503, "refused_503")
                return 503, b'{"message": "try again later"}', 0.0
            request = json.loads(body)
            action = request.get("action", {})
            self.actions[key] = StubAction(
                key=key,
                merchant_id=merchant,
                shipment_id=str(request.get("shipment_id", "")),
                action=str(action.get("action", "unknown")),
                automatic=request.get("automatic"),
                first_at_s=round(self.now(), 2),
            )
            reference = f"CHAOS-{len(self.answers) + 1:06d}"
            self.answers[key] = json.dumps({"status": "completed", "reference": reference}).encode()
            if roll < self.error_rate + self.slow_rate:
                self._record(key, merchant, 200, "acted_slow")
                return 200, self.answers[key], self.slow_s + 1.0
            self._record(key, merchant, 200, "acted")
            return 200, self.answers[key], 0.0

    def _record(self, key: str, merchant: str, status: int, outcome: str) -> None:
        self.calls.append(
            StubCall(
                at_s=round(self.now(), 2),
                key=key,
                merchant_id=merchant,
                status=status,
                outcome=outcome,
            )
        )

    def outcomes(self) -> Counter[str]:
        with self.lock:
            return Counter(call.outcome for call in self.calls)

    def acted_count(self) -> int:
        with self.lock:
            return len(self.actions)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# mail


@dataclass(frozen=True)
class Mail:
    key: str
    at_s: float
    """When the watcher first saw it (seconds after the run's origin)."""
    message_id: str
    recipients: tuple[str, ...]
    subject: str
    links: tuple[str, ...]


LINK = re.compile(r"https?://[^\s\"'<>]+/(?:c|t|s)/[A-Za-z0-9._~-]+")
ENVELOPE_TO = "X-Relais-Envelope-To"


class MailWatcher:
    """Reads the SMTP catcher's Maildir incrementally: each file parsed once."""

    def __init__(self, maildir: Path, *, origin: float) -> None:
        self.maildir = maildir
        self.origin = origin
        self.mails: list[Mail] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def poll(self) -> list[Mail]:
        """Mails stored since the last poll, oldest first."""
        fresh: list[tuple[float, Mail]] = []
        with self._lock:
            for sub in ("new", "cur"):
                directory = self.maildir / sub
                if not directory.is_dir():
                    continue
                for path in directory.iterdir():
                    key = path.name.split(":", 1)[0]
                    if key in self._seen:
                        continue
                    try:
                        raw = path.read_bytes()
                        mtime = path.stat().st_mtime
                    except OSError:
                        continue
                    self._seen.add(key)
                    fresh.append((mtime, self._parse(key, raw)))
            fresh.sort(key=lambda item: item[0])
            mails = [mail for _, mail in fresh]
            self.mails.extend(mails)
        return mails

    def _parse(self, key: str, raw: bytes) -> Mail:
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
        envelope = str(message.get(ENVELOPE_TO, "") or message.get("To", ""))
        body = message.get_body(preferencelist=("plain", "html"))
        text = "" if body is None else str(body.get_content())
        return Mail(
            key=key,
            at_s=round(time.monotonic() - self.origin, 2),
            message_id=str(message.get("Message-ID", "")).strip(),
            recipients=tuple(part.strip().lower() for part in envelope.split(",") if part.strip()),
            subject=str(message.get("Subject", "")),
            links=tuple(LINK.findall(text)),
        )

    def count(self) -> int:
        with self._lock:
            return len(self.mails)


# orders and carrier scans


@dataclass
class TrafficStats:
    orders_accepted: dict[str, str] = field(default_factory=dict)
    """order id -> merchant id, for every order the order API accepted."""
    scans_accepted: Counter[str] = field(default_factory=Counter)
    """tracking number -> carrier calls accepted (202)."""
    not_accepted: Counter[str] = field(default_factory=Counter)
    """Calls given up on, by last answer."""
    retries: int = 0
    sent: int = 0
    accepted_at: list[float] = field(default_factory=list)
    """Seconds after the origin of each accepted call (the throughput plot)."""

    @property
    def scans_total(self) -> int:
        return sum(self.scans_accepted.values())


class TrafficDriver:
    """Sends each call of the day when the virtual clock reaches it, retrying like a
    carrier until it is accepted."""

    def __init__(
        self,
        *,
        day: DayOfTraffic,
        clock: ScaledClock,
        tracker_url: str,
        api_keys: dict[str, str],
        carrier_secrets: dict[str, str],
        origin: float,
        give_up_s: float = 120.0,
    ) -> None:
        self.calls: list[OrderCall | CarrierCall] = [
            call
            for _, _, call in sorted(
                [(c.at, 0, c) for c in day.orders] + [(c.at, 1, c) for c in day.scans],
                key=lambda item: (item[0], item[1]),
            )
        ]
        self.clock = clock
        self.tracker_url = tracker_url
        self.api_keys = api_keys
        self.carrier_secrets = carrier_secrets
        self.origin = origin
        self.give_up_s = give_up_s
        self.stats = TrafficStats()
        self.done = threading.Event()
        self.stop = threading.Event()
        self.index = 0

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.tracker_url, timeout=5.0) as client:
                while self.index < len(self.calls) and not self.stop.is_set():
                    now = self.clock.now()
                    sent = False
                    while self.index < len(self.calls) and self.calls[self.index].at <= now:
                        self._deliver(client, self.calls[self.index])
                        self.index += 1
                        sent = True
                        if self.stop.is_set():
                            return
                    if not sent:
                        time.sleep(0.05)
        finally:
            self.done.set()

    def _deliver(self, client: httpx.Client, call: OrderCall | CarrierCall) -> None:
        deadline = time.monotonic() + self.give_up_s
        delay = 0.2
        while True:
            self.stats.sent += 1
            try:
                status = str(self._send(client, call))
            except httpx.HTTPError as error:
                status = type(error).__name__
            if status == "202":
                self.stats.accepted_at.append(round(time.monotonic() - self.origin, 2))
                if isinstance(call, OrderCall):
                    self.stats.orders_accepted[str(call.body["order_id"])] = call.merchant_id
                else:
                    self.stats.scans_accepted[call.tracking_number] += 1
                return
            # 4xx other than 429 means the call itself is refused: sending it again
            # would not change that.
            permanent = status.isdigit() and status.startswith("4") and status != "429"
            if permanent or time.monotonic() > deadline or self.stop.is_set():
                self.stats.not_accepted[status] += 1
                return
            self.stats.retries += 1
            time.sleep(delay)
            delay = min(delay * 2, 3.0)

    def _send(self, client: httpx.Client, call: OrderCall | CarrierCall) -> int:
        if isinstance(call, OrderCall):
            key = self.api_keys[call.merchant_id]
            return client.post(
                "/v1/orders", json=call.body, headers={"Authorization": f"Bearer {key}"}
            ).status_code
        body = json.dumps(call.payload).encode()
        headers = carrier_headers(
            carrier=call.carrier, secret=self.carrier_secrets[call.carrier], body=body
        )
        return client.post(
            f"/webhooks/carriers/{call.carrier}", content=body, headers=headers
        ).status_code

    @property
    def progress(self) -> tuple[int, int]:
        return self.index, len(self.calls)


# chat answers


PREFERRED_CHOICES = (
    "reship",
    "refund",
    "store_credit",
    "same_address",
    "yes_refused",
    "wait",
    "received",
    "will_collect",
    "collected",
)
"""Choices a customer of the run may click: those that need no form afterwards (most)."""
NODE = re.compile(r'name="node" value="([^"]*)"')
STEP = re.compile(r'name="step" value="([^"]*)"')
CHOICE = re.compile(r'name="choice" value="([^"]*)"')
FORM_FIELD = re.compile(r'<(?:input|select|textarea)[^>]*name="(?!node|step|choice)[a-z_]+"')


@dataclass
class ChatStats:
    links_seen: int = 0
    opened: int = 0
    resolved: int = 0
    """Walks that ended on a page asking nothing more."""
    left_at_form: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    choices: Counter[str] = field(default_factory=Counter)


class ChatCustomers:
    """Customers who open a seeded share of their chat links and answer."""

    def __init__(self, *, seed: int, rate: float, mail: MailWatcher) -> None:
        self.seed = seed
        self.rate = rate
        self.mail = mail
        self.stats = ChatStats()
        self.stop = threading.Event()
        self._pending: list[str] = []
        self._done: set[str] = set()
        self._cursor = 0

    def run(self) -> None:
        with httpx.Client(timeout=10.0, follow_redirects=True) as client:
            while not self.stop.wait(1.0):
                self.step(client)

    def step(self, client: httpx.Client) -> None:
        self.mail.poll()
        fresh = self.mail.mails[self._cursor :]
        self._cursor += len(fresh)
        for mail in fresh:
            for link in mail.links:
                if "/c/" not in link or link in self._done:
                    continue
                self.stats.links_seen += 1
                self._done.add(link)
                if random.Random(f"{self.seed}:{link}").random() < self.rate:
                    self._pending.append(link)
        retry = []
        for link in self._pending:
            if self.stop.is_set():
                return
            if not self.walk(client, link):
                retry.append(link)
        self._pending = retry

    def walk(self, client: httpx.Client, link: str) -> bool:
        """Answer one chat; False when the chat could not be reached (tried again later)."""
        rng = random.Random(f"{self.seed}:walk:{link}")
        try:
            page = client.get(link)
            if page.status_code >= 500:
                return False
            if page.status_code != 200:
                self.stats.failed[f"open {page.status_code}"] += 1
                return True
            self.stats.opened += 1
            for _ in range(6):
                choices = [c for c in CHOICE.findall(page.text) if c in PREFERRED_CHOICES]
                node, step = NODE.search(page.text), STEP.search(page.text)
                if node is None or step is None:
                    self.stats.resolved += 1
                    return True
                if not choices or FORM_FIELD.search(page.text):
                    self.stats.left_at_form += 1
                    return True
                choice = rng.choice(choices)
                self.stats.choices[choice] += 1
                answered = self._post(client, link, node.group(1), step.group(1), choice)
                if answered is None:
                    self.stats.failed["answer not accepted"] += 1
                    return True
                page = answered
            self.stats.failed["too many steps"] += 1
        except httpx.HTTPError as error:
            self.stats.failed[type(error).__name__] += 1
        return True

    def _post(
        self, client: httpx.Client, link: str, node: str, step: str, choice: str
    ) -> httpx.Response | None:
        """POST one answer, retried while the chat is unavailable; the page it leads to."""
        for attempt in range(20):
            try:
                answer = client.post(link, data={"node": node, "step": step, "choice": choice})
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 200:
                return answer
            if answer is not None and answer.status_code < 500:
                return None
            time.sleep(min(0.5 * 2**attempt, 3.0))
        return None


def summary(stats: Any) -> dict[str, Any]:
    """A JSON-able view of a stats dataclass (Counters as dicts)."""
    return {
        key: dict(value) if isinstance(value, Counter) else value
        for key, value in stats.__dict__.items()
        if not key.startswith("_") and key != "accepted_at"
    }
