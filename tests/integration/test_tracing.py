"""One trace across Kafka hops, on a real broker and a real PostgreSQL.

A message published inside a span is handled in a consumer span of the same trace;
what the handler enqueues in the outbox leaves Kafka with that trace's context, even
though the relay publishes it later, from another context.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from relais_contracts.envelope import Event
from relais_runtime.consumer import MessageContext, RetryPolicy, Subscription
from relais_runtime.kafka import make_producer, publish_events
from relais_runtime.outbox import OutboxRelay, enqueue
from relais_runtime.settings import RuntimeSettings
from relais_runtime.tracing import configure_tracing, instrument_clients
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually, read_topic
from tests.integration.harness import ParcelPinged, make_topic, ping, running_consumer


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Spans recorded by the process's SDK tracer provider (installed once, then shared)."""
    exporter = InMemorySpanExporter()
    configure_tracing(service="tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def traceparent_of(record: Any) -> tuple[int, int]:
    """(trace id, parent span id) of a Kafka record's W3C traceparent header."""
    headers = {name: value.decode() for name, value in record.headers}
    context = trace.get_current_span(TraceContextTextMapPropagator().extract(headers))
    return context.get_span_context().trace_id, context.get_span_context().span_id


async def test_one_trace_from_producer_through_consumer_and_outbox_relay(
    infrastructure: Infrastructure,
    schema: str,
    new_topic: Callable[..., Any],
    unique: str,
    spans: InMemorySpanExporter,
) -> None:
    settings = RuntimeSettings(
        kafka_bootstrap=infrastructure.kafka_bootstrap, database_url=infrastructure.database_url
    )
    inbound = make_topic(await new_topic(f"relais.test-trace-in-{unique}.v1", partitions=1))
    outbound = make_topic(await new_topic(f"relais.test-trace-out-{unique}.v1", partitions=1))
    seen_in_handler: dict[str, Any] = {}

    async def handler(event: Event, context: MessageContext) -> None:
        assert isinstance(event, ParcelPinged)
        seen_in_handler["span"] = trace.get_current_span().get_span_context()
        seen_in_handler["log_context"] = structlog.contextvars.get_contextvars()
        await enqueue(context.connection, topic=outbound, events=[ping(f"re-{event.note}")])

    tracer = trace.get_tracer("tests")
    producer = make_producer(settings, client_id=f"test-trace-{unique}")
    await producer.start()
    subscription = Subscription(topic=inbound, group_id=f"test-{unique}", handler=handler)
    try:
        async with running_consumer(
            settings=settings, schema=schema, subscription=subscription, retry=RetryPolicy()
        ) as pool:
            with tracer.start_as_current_span("carrier webhook") as root:
                await publish_events(producer, topic=inbound.name, events=[ping("hello")])
            origin = root.get_span_context()
            assert await eventually(lambda: _handled(pool), timeout_s=20)

            relay = OutboxRelay(pool=pool, producer=producer, schema=schema)
            with tracer.start_as_current_span("unrelated relay pass"):
                assert await relay.publish_pending() == 1
    finally:
        await producer.stop()

    records = await read_topic(
        infrastructure.kafka_bootstrap, outbound.name, until=lambda r: len(r) >= 1, timeout_s=10
    )
    handler_span = seen_in_handler["span"]
    consumer_spans = [
        span
        for span in spans.get_finished_spans()
        if span.kind is SpanKind.CONSUMER and span.name == f"{inbound.name} process"
    ]
    assert len(consumer_spans) == 1
    consumed: ReadableSpan = consumer_spans[0]
    assert consumed.context is not None
    assert consumed.parent is not None

    # The consumer span is the child of the publisher's span, in the same trace ...
    assert consumed.context.trace_id == origin.trace_id
    assert consumed.parent.span_id == origin.span_id
    assert handler_span.span_id == consumed.context.span_id
    assert consumed.attributes is not None
    assert consumed.attributes["messaging.consumer.group.name"] == f"test-{unique}"
    assert consumed.attributes["relais.outcome"] == "processed"
    # ... its trace id is in the log context while the handler runs ...
    assert seen_in_handler["log_context"]["trace_id"] == format(origin.trace_id, "032x")
    # ... and what the handler enqueued left with the handler's context, not the relay's.
    assert len(records) == 1
    assert traceparent_of(records[0]) == (origin.trace_id, handler_span.span_id)


async def _handled(pool: Any) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM outbox"))


async def answer_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A minimal HTTP/1.1 server answering 204 to anything (a real socket, no fake)."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.fixture
def client_spans() -> Iterator[None]:
    """Client instrumentation for one test only: the rest of the session stays unpatched."""
    instrument_clients()
    yield
    HTTPXClientInstrumentor().uninstrument()
    AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]


@pytest.mark.usefixtures("client_spans")
async def test_outgoing_http_and_sql_get_client_spans_without_urls_or_parameters(
    infrastructure: Infrastructure, spans: InMemorySpanExporter
) -> None:
    secret = "customer@example.org"
    server = await asyncio.start_server(answer_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connection = await asyncpg.connect(infrastructure.database_url)
    try:
        with trace.get_tracer("tests").start_as_current_span("handling") as parent:
            assert await connection.fetchval("SELECT length($1::text)", secret) == len(secret)
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/track/XY123?token={secret}")
            assert response.status_code == 204
    finally:
        await connection.close()
        server.close()
    children = [
        span
        for span in spans.get_finished_spans()
        if span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    ]
    sql = [span for span in children if span.attributes and "SELECT length" in str(span.attributes)]
    http = [span for span in children if span.kind is SpanKind.CLIENT and span not in sql]
    assert sql, [span.name for span in children]
    assert http, [span.name for span in children]
    for span in children:
        attributes = dict(span.attributes or {})
        assert secret not in str(attributes), attributes
        assert "XY123" not in str(attributes), attributes
    http_attributes = dict(http[0].attributes or {})
    assert http_attributes.get("url.full", http_attributes.get("http.url")) == (
        f"http://127.0.0.1:{port}"
    )
