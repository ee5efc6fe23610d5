"""The whole Relais stack for the journey: five real services in this process, one clock.

Rules:
- each service is the production one (`build_spec()` + its Settings), started with
  `RunningService` on a fresh PostgreSQL schema (`e2e_<run>_<service>`, dropped after)
  and consumer groups under `e2e-<run>.`, on the real shared topics, Kafka broker,
  PostgreSQL and SMTP catcher;
- every service reads the same clock spec (`scaled:<real>|<virtual>|1`): virtual time
  runs at real speed from 10:00 UTC on 15 January ten years ahead, so quiet hours
  never defer a message whatever the hour the tests run at, and links and timers
  agree. Ten years ahead, because the shipment states are on the shared topic, and
  another Relais on the same broker (a `relais demo` runs 1800x faster) must not see
  this run's parcels as stalled or late and publish anomalies about them;
- the tracker reads orders and carrier updates from topics of its own, so no other
  tracker on the broker folds this run's parcels into a second story;
- the merchants are the two demo merchants of deploy/merchants, copied under ids of
  this run (`maison-lumiere-<run>`) with an order API key, webhook URLs pointing at
  the local merchant systems and signing secrets, all generated for this run and
  written only to a temporary directory. Another Relais running on the same broker
  (a developer's `relais demo`) knows none of them, so it never emails these
  customers nor calls these webhooks; it may dead-letter their events, which is what
  a deployment does with a merchant it does not serve;
- nothing of a run is shared with another: merchant ids, order ids, emails and
  tracking numbers carry the run id; an event seen twice on a topic (the same event
  id) is kept once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import mailbox
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from relais_actions.bootstrap import build_spec as actions_spec
from relais_actions.settings import ActionsSettings
from relais_chat.bootstrap import build_spec as chat_spec
from relais_chat.settings import ChatSettings
from relais_cli.infra.settings import InfraSettings
from relais_cli.infra.smtp import ReceivedMail
from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics import (
    action_results,
    anomalies,
    carrier_updates,
    conversations,
    notifications,
    orders,
)
from relais_detector.bootstrap import build_spec as detector_spec
from relais_detector.settings import DetectorSettings
from relais_notifier.bootstrap import build_spec as notifier_spec
from relais_notifier.settings import NotifierSettings
from relais_runtime.clock import ScaledClock, clock_from_spec
from relais_runtime.merchants.base import SecretRef
from relais_runtime.merchants.tracking import CarrierWebhookAuth, WebhookScheme
from relais_runtime.service import RunningService, ServiceSpec
from relais_runtime.settings import RuntimeSettings
from relais_tracker.bootstrap import build_spec as tracker_spec
from relais_tracker.settings import TrackerSettings
from tests.conftest import REPO_ROOT, Infrastructure, drop_schemas
from tests.e2e.journey.merchant import MerchantSystems, free_port

DEMO_MERCHANTS = Path(REPO_ROOT) / "deploy" / "merchants"
SERVICES = ("tracker", "detector", "notifier", "chat", "actions")
CARRIER_SIGNATURE_HEADER = "X-Relais-Signature"
PRIVATE: tuple[Topic, ...] = (orders.TOPIC, carrier_updates.TOPIC)
"""The tracker's inputs, on topics of this run only."""
TAPPED: tuple[Topic, ...] = (
    anomalies.TOPIC,
    conversations.TOPIC,
    action_results.TOPIC,
    notifications.TOPIC,
)


def journey_clock_spec(*, real_now: datetime) -> str:
    """Real speed from 10:00 UTC (11:00 in Paris, 10:00 or 11:00 in London, far from both
    demo merchants' quiet hours) on 15 January, ten years ahead."""
    virtual = real_now.replace(
        year=real_now.year + 10, month=1, day=15, hour=10, minute=0, second=0, microsecond=0
    )
    return f"scaled:{real_now.isoformat()}|{virtual.isoformat()}|1"


@dataclass(frozen=True)
class MerchantAccess:
    """What this run generated for one merchant (test-only values)."""

    merchant_id: str
    """The demo merchant's id with the run's suffix."""
    api_key: str
    webhook_secret: str


def write_merchants(
    *, target: Path, run: str, webhook_url: Callable[[str], str]
) -> dict[str, MerchantAccess]:
    """The demo merchants under this run's ids, with this run's API key, webhook URL and
    secret (a file reference); keyed by the demo merchant's id."""
    target.mkdir(parents=True, exist_ok=True)
    access = {}
    for path in sorted(DEMO_MERCHANTS.glob("*.yaml")):
        config: dict[str, Any] = yaml.safe_load(path.read_text())
        demo_id = config["merchant_id"]
        merchant_id = config["merchant_id"] = f"{demo_id}-{run}"
        one = MerchantAccess(
            merchant_id=merchant_id,
            api_key="rk_test_" + secrets.token_urlsafe(24),
            webhook_secret="whsec_test_" + secrets.token_urlsafe(24),
        )
        secret_file = target / f"{merchant_id}.webhook-secret"
        secret_file.write_text(one.webhook_secret)
        digest = hashlib.sha256(one.api_key.encode()).hexdigest()
        config.setdefault("tracking", {})["api_keys"] = [{"id": "e2e", "sha256": digest}]
        config["actions"]["webhook"]["url"] = webhook_url(merchant_id)
        config["actions"]["webhook"]["secret"] = {"file": str(secret_file)}
        (target / f"{merchant_id}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
        access[demo_id] = one
    return access


class Inbox:
    """The SMTP catcher's Maildir, read incrementally: only messages that arrived after
    the inbox was opened are parsed (the Maildir keeps every earlier run's mail)."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.seen: set[str] = set(self._keys())
        self.mail: list[ReceivedMail] = []
        self.taken: set[str] = set()

    def _keys(self) -> list[str]:
        if not (self.maildir / "cur").is_dir():
            return []
        return list(mailbox.Maildir(self.maildir, factory=None, create=False).iterkeys())

    def refresh(self) -> None:
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        for key in self._keys():
            if key in self.seen:
                continue
            self.seen.add(key)
            with contextlib.suppress(KeyError, FileNotFoundError):
                self.mail.append(_parse(key, box))
        self.mail.sort(key=lambda mail: (mail.received_at, mail.key))

    async def wait_for(self, *, to: str, count: int, timeout_s: float = 30.0) -> list[ReceivedMail]:
        """The mail to `to`, once at least `count` arrived; AssertionError after the timeout."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            self.refresh()
            mine = [mail for mail in self.mail if to in mail.envelope_to]
            if len(mine) >= count or asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.2)
        subjects = [mail.subject for mail in mine]
        assert len(mine) >= count, f"{count} emails to {to} expected, got {subjects}"
        return mine

    async def next(self, *, to: str, timeout_s: float = 30.0) -> ReceivedMail:
        """A mail to `to` that `next` has not returned yet (the oldest such one)."""
        mine = await self.wait_for(to=to, count=len(self._taken_by(to)) + 1, timeout_s=timeout_s)
        fresh = next(mail for mail in mine if mail.key not in self.taken)
        self.taken.add(fresh.key)
        return fresh

    def _taken_by(self, to: str) -> list[ReceivedMail]:
        return [mail for mail in self.mail if mail.key in self.taken and to in mail.envelope_to]


def _parse(key: str, box: mailbox.Maildir) -> ReceivedMail:
    import email
    from email import policy
    from email.message import EmailMessage

    raw = box.get_bytes(key)
    message = email.message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    stamp = box.get_message(key).get_date()
    return ReceivedMail(key=key, received_at=datetime.fromtimestamp(stamp, tz=UTC), message=message)


@dataclass
class TopicTap:
    """Every event of a run on the tapped topics, read from where the topics ended when
    the tap started (so no earlier history is read)."""

    bootstrap: str
    run: str
    events: list[Event] = field(default_factory=list)
    seen: set[UUID] = field(default_factory=set)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        self._consumer = consumer
        partitions = [
            TopicPartition(topic.name, partition)
            for topic in TAPPED
            for partition in range(topic.partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve the end offsets now, before anything happens
            await consumer.position(partition)
        self._task = asyncio.create_task(self._read(), name="journey-tap")

    async def _read(self) -> None:
        assert self._consumer is not None
        decoders = {topic.name: topic for topic in TAPPED}
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for partition, records in batches.items():
                for record in records:
                    if record.key is None or self.run not in record.key.decode():
                        continue
                    assert record.value is not None
                    event = decoders[partition.topic].decode(record.value)
                    if event.event_id not in self.seen:
                        self.seen.add(event.event_id)
                        self.events.append(event)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def of(self, kind: type[Any], *, shipment_id: str) -> list[Any]:
        return [
            event
            for event in self.events
            if isinstance(event, kind) and getattr(event, "shipment_id", None) == shipment_id
        ]

    async def wait_for(
        self, kind: type[Any], *, shipment_id: str, count: int = 1, timeout_s: float = 30.0
    ) -> list[Any]:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.of(kind, shipment_id=shipment_id)) < count:
            if asyncio.get_running_loop().time() >= deadline:
                seen = [
                    type(e).__name__
                    for e in self.events
                    if getattr(e, "shipment_id", None) == shipment_id
                ]
                raise AssertionError(f"no {kind.__name__} for {shipment_id}; saw {seen}")
            await asyncio.sleep(0.1)
        return self.of(kind, shipment_id=shipment_id)


@dataclass
class Stack:
    """The running stack and what a test needs to drive it."""

    run: str
    clock: ScaledClock
    urls: dict[str, str]
    schemas: dict[str, str]
    merchants: dict[str, MerchantAccess]
    merchant_systems: MerchantSystems
    carrier_secret: str
    inbox: Inbox
    tap: TopicTap
    database_url: str

    async def place_order(self, *, merchant: str, body: dict[str, Any]) -> None:
        """Place an order for a demo merchant (its id without the run's suffix)."""
        key = self.merchants[merchant].api_key
        async with httpx.AsyncClient(base_url=self.urls["tracker"], timeout=10) as client:
            response = await client.post(
                "/v1/orders", json=body, headers={"Authorization": f"Bearer {key}"}
            )
        assert response.status_code == 202, response.text

    async def carrier_scan(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        digest = hmac.new(self.carrier_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", CARRIER_SIGNATURE_HEADER: f"sha256={digest}"}
        async with httpx.AsyncClient(base_url=self.urls["tracker"], timeout=10) as client:
            response = await client.post(
                "/webhooks/carriers/generic", content=body, headers=headers
            )
        assert response.status_code == 202, response.text

    async def fetchval(self, service: str, query: str, *args: Any) -> Any:
        connection = await asyncpg.connect(
            self.database_url, server_settings={"search_path": self.schemas[service]}
        )
        try:
            return await connection.fetchval(query, *args)
        finally:
            await connection.close()


def service_settings(
    *,
    infrastructure: Infrastructure,
    run: str,
    clock: str,
    merchants_dir: Path,
    urls: dict[str, str],
    carrier_secret_file: Path,
    link_secret: str,
    tracker_topics: dict[str, str],
) -> dict[str, RuntimeSettings]:
    common: dict[str, Any] = {
        "kafka_bootstrap": infrastructure.kafka_bootstrap,
        "database_url": infrastructure.database_url,
        "consumer_group_prefix": f"e2e-{run}.",
        "consumer_new_groups_start": "now",
        "merchants_dir": merchants_dir,
        "outbox_poll_interval_s": 0.1,
        "clock": clock,
    }
    port = {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}
    smtp = InfraSettings()
    carrier_auth = CarrierWebhookAuth(
        scheme=WebhookScheme.HMAC_SHA256,
        header=CARRIER_SIGNATURE_HEADER,
        prefix="sha256=",
        secret=SecretRef(file=carrier_secret_file),
    )
    return {
        "tracker": TrackerSettings(
            **common,
            http_port=port["tracker"],
            carrier_webhooks={"generic": carrier_auth},
            topic_overrides=tracker_topics,
        ),
        "detector": DetectorSettings(**common, http_port=port["detector"]),
        "notifier": NotifierSettings(
            **common,
            http_port=port["notifier"],
            customer_link_secrets=[link_secret],
            opt_out_pepper="test-only-journey-opt-out-pepper-" + secrets.token_urlsafe(16),
            public_chat_base_url=urls["chat"],
            public_notifier_base_url=urls["notifier"],
            smtp_host="127.0.0.1",
            smtp_port=smtp.smtp_port,
        ),
        "chat": ChatSettings(**common, http_port=port["chat"], customer_link_secrets=[link_secret]),
        "actions": ActionsSettings(
            **common,
            http_port=port["actions"],
            # Production waits 30 s, 5 min, 30 min before a retry; the journey cannot.
            retry_delays_s=(0.5, 1.0, 2.0),
            retry_jitter=0.0,
        ),
    }


def specs(
    *, settings: dict[str, RuntimeSettings], http: httpx.AsyncClient
) -> dict[str, ServiceSpec]:
    actions = settings["actions"]
    assert isinstance(actions, ActionsSettings)
    return {
        "tracker": tracker_spec(),
        "detector": detector_spec(),
        "notifier": notifier_spec(),
        "chat": chat_spec(),
        "actions": actions_spec(settings=actions, http=http),
    }


@asynccontextmanager
async def running_stack(
    *,
    infrastructure: Infrastructure,
    run: str,
    directory: Path,
    merchant_systems: MerchantSystems,
) -> AsyncIterator[Stack]:
    """Start the five services (in dependency order: consumers before producers), yield
    the stack, stop them and drop their schemas."""
    real_now = datetime.now(UTC)
    clock_spec = journey_clock_spec(real_now=real_now)
    clock = clock_from_spec(clock_spec)
    assert isinstance(clock, ScaledClock)
    merchants = write_merchants(
        target=directory / "merchants", run=run, webhook_url=merchant_systems.url
    )
    merchant_systems.secrets.update({m.merchant_id: m.webhook_secret for m in merchants.values()})
    carrier_secret = secrets.token_urlsafe(32)
    carrier_secret_file = directory / "carrier.secret"
    carrier_secret_file.write_text(carrier_secret)
    tracker_topics = {topic.name: f"e2e-{run}.{topic.name}" for topic in PRIVATE}
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICES}
    schemas = {name: f"e2e_{run}_{name}" for name in SERVICES}
    settings = service_settings(
        infrastructure=infrastructure,
        run=run,
        clock=clock_spec,
        merchants_dir=directory / "merchants",
        urls=urls,
        carrier_secret_file=carrier_secret_file,
        link_secret="test-only-journey-link-secret-" + secrets.token_urlsafe(16),
        tracker_topics=tracker_topics,
    )
    tap = TopicTap(bootstrap=infrastructure.kafka_bootstrap, run=run)
    started: list[RunningService] = []
    async with httpx.AsyncClient() as http:
        try:
            await create_topics(infrastructure.kafka_bootstrap, tracker_topics)
            await tap.start()
            for name, spec in reversed(specs(settings=settings, http=http).items()):
                service = RunningService(replace(spec, schema=schemas[name]), settings[name])
                await service.start()
                started.append(service)
            yield Stack(
                run=run,
                clock=clock,
                urls=urls,
                schemas=schemas,
                merchants=merchants,
                merchant_systems=merchant_systems,
                carrier_secret=carrier_secret,
                inbox=Inbox(InfraSettings().paths.mail_dir),
                tap=tap,
                database_url=infrastructure.database_url,
            )
        finally:
            for service in reversed(started):
                await service.stop()
            await tap.stop()
            await drop_schemas(infrastructure.database_url, schemas.values())
            await delete_topics(infrastructure.kafka_bootstrap, tracker_topics.values())


async def create_topics(bootstrap: str, renamed: dict[str, str]) -> None:
    partitions = {topic.name: topic.partitions for topic in PRIVATE}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, partitions[original], 1) for original, name in renamed.items()]
        )
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: Iterable[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


def later(clock: ScaledClock, **delta: float) -> str:
    """An ISO time relative to the stack's virtual now."""
    return (clock.now() + timedelta(**delta)).isoformat()
