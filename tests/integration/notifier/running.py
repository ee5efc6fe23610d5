"""The production notifier in this process, on topics and merchants a test chooses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from relais_contracts.envelope import Event
from relais_notifier.bootstrap import build_spec
from relais_notifier.handlers import UnsubscribeContext
from relais_notifier.preview_routes import build_preview_router
from relais_notifier.settings import NotifierSettings
from relais_notifier.texts.rendering import Renderer
from relais_runtime.clock import Clock
from relais_runtime.http import build_http_app, make_server
from relais_runtime.kafka import make_producer, publish_events
from relais_runtime.merchants import merchants_of
from relais_runtime.service import Dependencies, RunningService, Wiring
from tests.conftest import Infrastructure, free_port
from tests.integration.notifier.conftest import (
    MERCHANTS_DIR,
    Harness,
    SmsProvider,
    SmtpServer,
    notifier_settings,
    serve,
)

Publish = Callable[[str, Event], Awaitable[None]]


@asynccontextmanager
async def running_notifier(
    infrastructure: Infrastructure,
    *,
    schema: str,
    unique: str,
    topics: Mapping[str, str],
    smtp: SmtpServer,
    sms_provider: SmsProvider,
    clock: Clock,
    merchants_dir: Path | None = None,
) -> AsyncIterator[Publish]:
    """The notifier reading `topics` (registry name -> test topic); yields a function
    publishing an event to one of them (by registry name)."""
    spec = build_spec(clock=clock)

    def wire(dependencies: Dependencies[NotifierSettings]) -> Wiring:
        wiring = spec.wire(dependencies)
        return replace(
            wiring,
            subscriptions=[
                replace(sub, topic=replace(sub.topic, name=topics[sub.topic.name]))
                for sub in wiring.subscriptions
                if sub.topic.name in topics
            ],
        )

    settings = notifier_settings(
        infrastructure,
        smtp_port=smtp.port,
        sms_base_url=sms_provider.base_url,
        http_port=free_port(),
    )
    settings = settings.model_copy(
        update={
            "consumer_group_prefix": f"test-{unique}.",
            **({"merchants_dir": merchants_dir} if merchants_dir else {}),
        }
    )
    service = RunningService(replace(spec, schema=schema, wire=wire), settings)
    await service.start()
    producer = make_producer(settings, client_id=f"test-{unique}")
    await producer.start()

    async def publish(topic: str, event: Event) -> None:
        await publish_events(producer, topic=topics[topic], events=[event])

    try:
        yield publish
    finally:
        await producer.stop()
        await service.stop()


@asynccontextmanager
async def internal_routes(harness: Harness) -> AsyncIterator[str]:
    """The notifier's internal routes (preview, sent copies) over HTTP on the harness's
    database: the base URL, until the block ends."""
    context = UnsubscribeContext(
        pool=harness.pool,
        merchants=merchants_of(MERCHANTS_DIR),
        links=harness.links,
        renderer=Renderer(),
        clock=harness.clock,
    )
    app = build_http_app(service="notifier", readiness={}, routers=[build_preview_router(context)])
    port = free_port()
    server = make_server(app, host="127.0.0.1", port=port)
    task = await serve(server)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
