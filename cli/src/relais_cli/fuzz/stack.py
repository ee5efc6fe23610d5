"""The six services of a fuzz run, started in this process against the isolated
infrastructure (relais_cli.fuzz.infra).

Rules:
- each service is the production one (its `build_spec()` and Settings), started with
  the runtime's `RunningService`, on its default schema and consumer groups (the
  infrastructure is the run's own), consumers before producers;
- the merchants are the demo merchants of deploy/merchants, copied with an order API
  key generated for this run (only its SHA-256 is written), their action webhooks
  pointed at a local stub that checks signatures, and every secret they reference
  written to a file of the run (never an environment variable);
- the tracker accepts carrier webhooks of every adapter with one platform credential of
  the run (HMAC-SHA256 of the body, header X-Relais-Fuzz-Signature);
- the services log to one file of the run (JSON lines, each with its service's name);
  exceptions the HTTP servers log are also kept in memory (`ErrorCapture`) so that a
  500 can be reported with its traceback;
- the caller's RELAIS_* and DATABASE_URL variables must not reach the services
  (`scrubbed_environment`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import sys
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import structlog
import yaml

from relais_actions.bootstrap import build_spec as actions_spec
from relais_actions.settings import ActionsSettings
from relais_chat.bootstrap import build_spec as chat_spec
from relais_chat.settings import ChatSettings
from relais_cli.demo.merchant_stub import MerchantStub
from relais_cli.fuzz.infra import FuzzInfra
from relais_detector.bootstrap import build_spec as detector_spec
from relais_detector.settings import DetectorSettings
from relais_insights.bootstrap import build_spec as insights_spec
from relais_insights.settings import InsightsSettings
from relais_notifier.bootstrap import build_spec as notifier_spec
from relais_notifier.settings import NotifierSettings
from relais_runtime.logging import configure_logging
from relais_runtime.merchants.base import SecretRef
from relais_runtime.merchants.tracking import CarrierWebhookAuth, WebhookScheme
from relais_runtime.service import RunningService, ServiceSpec
from relais_runtime.settings import RuntimeSettings
from relais_tracker.adapters import carriers
from relais_tracker.bootstrap import build_spec as tracker_spec
from relais_tracker.settings import TrackerSettings

SIGNATURE_HEADER = "X-Relais-Fuzz-Signature"
SIGNATURE_PREFIX = "sha256="
STOP_SLOW_S = 25.0
"""A service still stopping after this long is slow (its shutdown grace is 20 s): where
its tasks wait is noted."""
STOP_TIMEOUT_S = 60.0
"""A service still stopping after this long is reported stuck and left behind."""
START_ORDER = ("insights", "actions", "chat", "notifier", "detector", "tracker")
"""Consumers before producers (the tracker, which takes the outside world's input, last)."""


@contextlib.contextmanager
def scrubbed_environment() -> Iterator[None]:
    """os.environ without RELAIS_*, OTEL_* and DATABASE_URL while the block runs."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("RELAIS_", "OTEL_")) or name == "DATABASE_URL":
            del os.environ[name]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass(frozen=True)
class MerchantAccess:
    merchant_id: str
    api_key: str
    language: str
    """The merchant's first locale (fr, en...)."""


@dataclass(frozen=True)
class CapturedError:
    at: float
    logger: str
    message: str
    traceback: str


class ErrorCapture(logging.Handler):
    """Keeps every logged exception (uvicorn's "Exception in ASGI application"...)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: list[CapturedError] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            self.errors.append(
                CapturedError(
                    at=record.created,
                    logger=record.name,
                    message=record.getMessage(),
                    traceback=text,
                )
            )


def _secret_file(directory: Path, name: str) -> Path:
    path = directory / f"{name}.secret"
    path.write_text(secrets.token_urlsafe(32))
    path.chmod(0o600)
    return path


def _secrets_to_files(node: Any, directory: Path) -> Any:
    """Every `{env: NAME}` secret reference of a merchant file turned into a file of the
    run holding a generated value."""
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            return {"file": str(_secret_file(directory, node["env"].lower()))}
        return {key: _secrets_to_files(value, directory) for key, value in node.items()}
    if isinstance(node, list):
        return [_secrets_to_files(item, directory) for item in node]
    return node


def write_merchants(
    *, source: Path, target: Path, stub: MerchantStub
) -> tuple[list[MerchantAccess], dict[str, str]]:
    """The demo merchants for this run; returns their access and their action webhook
    secrets (for the stub)."""
    target.mkdir(parents=True, exist_ok=True)
    secrets_dir = target / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    access, webhook_secrets = [], {}
    for path in sorted(source.glob("*.yaml")):
        config: dict[str, Any] = yaml.safe_load(path.read_text())
        merchant_id = config["merchant_id"]
        key = "rk_fuzz_" + secrets.token_urlsafe(24)
        digest = hashlib.sha256(key.encode()).hexdigest()
        config.setdefault("tracking", {})["api_keys"] = [{"id": "fuzz-run", "sha256": digest}]
        config = _secrets_to_files(config, secrets_dir)
        webhook = config["actions"]["webhook"]
        webhook["url"] = stub.url(merchant_id)
        webhook_secrets[merchant_id] = Path(webhook["secret"]["file"]).read_text().strip()
        (target / path.name).write_text(
            "# Generated by `relais fuzz` for one run; do not edit.\n"
            + yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
        )
        language = str((config.get("locales") or ["en"])[0])
        access.append(MerchantAccess(merchant_id=merchant_id, api_key=key, language=language))
    return access, webhook_secrets


@dataclass
class FuzzStack:
    """The running services and what the phases need to reach them."""

    urls: dict[str, str]
    merchants: list[MerchantAccess]
    carrier_secret: bytes
    webhook_limit: int
    app_limit: int
    consumers: list[tuple[str, str, str]]
    """(service, consumer group, topic) of every subscription."""
    log_path: Path
    errors: ErrorCapture
    link_secret: str
    """The customer link secret: signs links as the notifier does (the forms phase opens
    pages with it)."""
    services: dict[str, RunningService[Any]] = field(default_factory=dict)
    stop_seconds: dict[str, float] = field(default_factory=dict)
    """How long each service took to stop (graceful shutdown), filled at the end."""
    slow_at_stop: dict[str, list[str]] = field(default_factory=dict)
    """Services that stopped, but after STOP_SLOW_S: where their tasks waited then."""
    stuck_at_stop: dict[str, list[str]] = field(default_factory=dict)
    """Services that did not stop within STOP_TIMEOUT_S: where their tasks waited."""

    def sign(self, body: bytes) -> dict[str, str]:
        digest = hmac.new(self.carrier_secret, body, hashlib.sha256).hexdigest()
        return {SIGNATURE_HEADER: SIGNATURE_PREFIX + digest}

    def merchant(self, language: str = "fr") -> MerchantAccess:
        """A merchant of the run, the first speaking `language` if any."""
        return next((m for m in self.merchants if m.language == language), self.merchants[0])

    def example_merchants(self) -> dict[str, str]:
        """The contracts' example merchants (relais_contracts/examples) -> this run's."""
        return {
            "maison-lune": self.merchant("fr").merchant_id,
            "northwind-outdoor": self.merchant("en").merchant_id,
        }


def service_settings(
    infra: FuzzInfra, *, merchants_dir: Path, carrier_secret_file: Path, link_secret: str
) -> dict[str, RuntimeSettings]:
    ports = infra.ports.services
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common: dict[str, Any] = {
        "kafka_bootstrap": infra.bootstrap,
        "database_url": infra.database_url,
        "merchants_dir": merchants_dir,
        "outbox_poll_interval_s": 0.2,
    }
    credential = CarrierWebhookAuth(
        scheme=WebhookScheme.HMAC_SHA256,
        header=SIGNATURE_HEADER,
        prefix=SIGNATURE_PREFIX,
        secret=SecretRef(file=carrier_secret_file),
    )
    return {
        "tracker": TrackerSettings(
            **common,
            http_port=ports["tracker"],
            carrier_webhooks=dict.fromkeys(carriers.ADAPTERS, credential),
        ),
        "detector": DetectorSettings(**common, http_port=ports["detector"]),
        "notifier": NotifierSettings(
            **common,
            http_port=ports["notifier"],
            customer_link_secrets=[link_secret],
            opt_out_pepper=secrets.token_urlsafe(48),
            public_chat_base_url=urls["chat"],
            public_notifier_base_url=urls["notifier"],
            smtp_host="127.0.0.1",
            smtp_port=infra.ports.smtp,
        ),
        "chat": ChatSettings(
            **common, http_port=ports["chat"], customer_link_secrets=[link_secret]
        ),
        "actions": ActionsSettings(
            **common, http_port=ports["actions"], retry_delays_s=(1.0, 2.0, 4.0)
        ),
        "insights": InsightsSettings(
            **common, http_port=ports["insights"], session_secrets=[secrets.token_urlsafe(48)]
        ),
    }


def _specs(
    settings: dict[str, RuntimeSettings], http: httpx.AsyncClient
) -> dict[str, ServiceSpec[Any]]:
    actions = settings["actions"]
    assert isinstance(actions, ActionsSettings)
    return {
        "tracker": tracker_spec(),
        "detector": detector_spec(),
        "notifier": notifier_spec(),
        "chat": chat_spec(),
        "actions": actions_spec(settings=actions, http=http),
        "insights": insights_spec(),
    }


def configure_service_logs(log_file: TextIO, capture: ErrorCapture) -> None:
    """Structlog and the standard library (uvicorn) to `log_file`; exceptions to `capture`."""
    configure_logging(service="fuzz", level="info", fmt="json")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=log_file))
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = [handler, capture] if name in ("", "uvicorn") else []
        logger.propagate = name not in ("", "uvicorn")


def release_service_logs() -> None:
    """Back to stderr: the log file is about to close."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = name != ""


async def wait_ready(urls: dict[str, str], *, timeout_s: float = 90.0) -> dict[str, int]:
    """Poll every /ready until all answer 200 or the timeout; the last status of each."""
    deadline = time.monotonic() + timeout_s
    statuses = dict.fromkeys(urls, 0)
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            for name, url in urls.items():
                if statuses[name] == 200:
                    continue
                try:
                    statuses[name] = (await client.get(f"{url}/ready")).status_code
                except httpx.HTTPError:
                    statuses[name] = 0
            if all(status == 200 for status in statuses.values()) or time.monotonic() > deadline:
                return statuses
            await asyncio.sleep(0.3)


@dataclass
class Prepared:
    """What the run writes before a service starts."""

    stub: MerchantStub
    merchants: list[MerchantAccess]
    settings: dict[str, RuntimeSettings]
    carrier_secret: bytes
    link_secret: str
    log_path: Path


def prepare(infra: FuzzInfra, *, directory: Path, source_merchants: Path) -> Prepared:
    """Merchants, secrets and settings of the run, written under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    stub = MerchantStub(secrets={})
    merchants, webhook_secrets = write_merchants(
        source=source_merchants, target=directory / "merchants", stub=stub
    )
    stub.secrets = webhook_secrets
    carrier_secret_file = _secret_file(directory, "carrier-webhooks")
    link_secret = secrets.token_urlsafe(48)
    settings = service_settings(
        infra,
        merchants_dir=directory / "merchants",
        carrier_secret_file=carrier_secret_file,
        link_secret=link_secret,
    )
    return Prepared(
        stub=stub,
        merchants=merchants,
        settings=settings,
        carrier_secret=carrier_secret_file.read_text().strip().encode(),
        link_secret=link_secret,
        log_path=directory / "services.log",
    )


@asynccontextmanager
async def running_stack(infra: FuzzInfra, *, prepared: Prepared) -> AsyncIterator[FuzzStack]:
    """Start the six services, yield the stack, stop them."""
    settings, stub = prepared.settings, prepared.stub
    capture = ErrorCapture()
    started: list[RunningService[Any]] = []
    stack: FuzzStack | None = None
    with prepared.log_path.open("a", buffering=1) as log_file:
        configure_service_logs(log_file, capture)
        stub.start()
        try:
            async with httpx.AsyncClient() as http:  # the actions service's, closed last
                try:
                    specs = _specs(settings, http)
                    stack = FuzzStack(
                        urls={
                            name: f"http://127.0.0.1:{port}"
                            for name, port in infra.ports.services.items()
                        },
                        merchants=prepared.merchants,
                        carrier_secret=prepared.carrier_secret,
                        webhook_limit=_tracker(settings).webhook_max_body_bytes,
                        app_limit=settings["tracker"].http_max_body_bytes,
                        consumers=[],
                        log_path=prepared.log_path,
                        errors=capture,
                        link_secret=prepared.link_secret,
                    )
                    for name in START_ORDER:
                        started.append(await _start(name, specs[name], settings[name], stack))
                    configure_service_logs(log_file, capture)  # uvicorn reconfigured its loggers
                    yield stack
                finally:
                    for service in reversed(started):
                        await _stop(service, stack)
        finally:
            stub.stop()
            release_service_logs()


async def _start(
    name: str, spec: ServiceSpec[Any], settings: RuntimeSettings, stack: FuzzStack
) -> RunningService[Any]:
    """Start one service, its tasks logging under its name."""
    structlog.contextvars.bind_contextvars(service=name)
    service = RunningService(spec, settings)
    try:
        await service.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await service.stop()
        raise
    finally:
        structlog.contextvars.bind_contextvars(service="fuzz")
    stack.services[name] = service
    stack.consumers += [(name, consumer.group, consumer.topic) for consumer in service.consumers]
    return service


async def _stop(service: RunningService[Any], stack: FuzzStack | None) -> None:
    """Stop one service. Past STOP_SLOW_S, note where its tasks wait; past STOP_TIMEOUT_S,
    report it stuck, cancel the stop and go on."""
    begun = time.monotonic()
    name = service.spec.name
    stopping = asyncio.create_task(service.stop(), name=f"fuzz-stop-{name}")
    done, _ = await asyncio.wait({stopping}, timeout=STOP_SLOW_S)
    if not done:
        waiting = pending_task_stacks([stopping, *_tasks_of(service)])
        done, _ = await asyncio.wait({stopping}, timeout=STOP_TIMEOUT_S - STOP_SLOW_S)
        if stack is not None:
            (stack.slow_at_stop if done else stack.stuck_at_stop)[name] = waiting
    if stack is not None:
        stack.stop_seconds[name] = round(time.monotonic() - begun, 1)
    if done:
        with contextlib.suppress(Exception):
            stopping.result()
        return
    stopping.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait({stopping}, timeout=5)


def await_chain(coroutine: Any) -> list[str]:
    """Where a suspended coroutine waits, outermost first (`Task.get_stack` only shows
    the outermost frame of a suspended coroutine)."""
    found = []
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            found.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_qualname}")
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
    return found


def _tasks_of(service: RunningService[Any]) -> list[asyncio.Task[Any]]:
    """The service's loops and outbox relay (the runtime keeps them; read for diagnosis
    only, tolerant of a runtime that names them otherwise)."""
    tasks = list(getattr(service, "_tasks", None) or [])
    relay = getattr(service, "_relay_task", None)
    return [task for task in (*tasks, relay) if isinstance(task, asyncio.Task)]


def pending_task_stacks(tasks: list[asyncio.Task[Any]]) -> list[str]:
    """Where each of `tasks` still pending waits (a slow or stuck stop's diagnosis)."""
    return [
        f"task {task.get_name()}:\n  " + "\n  ".join(await_chain(task.get_coro()))
        for task in tasks
        if not task.done()
    ]


def _tracker(settings: dict[str, RuntimeSettings]) -> TrackerSettings:
    tracker = settings["tracker"]
    assert isinstance(tracker, TrackerSettings)
    return tracker
