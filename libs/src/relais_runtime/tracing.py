"""OpenTelemetry trace context across every Kafka hop: one shipment's story is one trace.

Rules:
- a producer writes the W3C trace context of the current span (`traceparent`, and
  `tracestate`/`baggage` when present) into the Kafka headers of every message
  (`relais_runtime.kafka.event_headers`); the outbox stores those headers with the row
  at enqueue time, so the relay publishes the context of the transaction that wrote
  the row, never its own;
- a consumer handles each message inside a CONSUMER span that is the child of the
  context found in its headers (`consumer_span`); a message without one starts a
  new trace. While the span is open its trace id and span id are bound into the
  structlog context, so every log line of that message names its trace;
- spans are always recorded once `configure_tracing` ran (an SDK tracer provider is
  installed), so trace ids propagate and reach the logs even when nothing is exported.
  The exporter comes from OTEL_TRACES_EXPORTER (`none` by default; `console`; `otlp`,
  which is OTLP over HTTP), configured by the standard OTEL_* variables
  (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES,
  OTEL_SERVICE_NAME, OTEL_PROPAGATORS...);
- span attributes hold topics, partitions, offsets, groups, outcomes and HTTP routes:
  never keys, payloads, URLs (customer links carry signed tokens), client addresses or
  user agents (personal data);
- once an exporter is configured, outgoing HTTP (httpx: merchant webhooks, carrier
  APIs, SMS gateways) and every PostgreSQL call (asyncpg) get CLIENT spans too, children
  of the span that made them: an HTTP span keeps only the target's origin (paths and
  queries carry tracking numbers and tokens), a SQL span the statement text and never
  its parameters. Without an exporter nobody would see them, so they are not created
  (a span per query costs the hot paths CPU for nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from relais_runtime.settings import ConfigurationError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.instrumentation.httpx import RequestInfo

EXPORTER_ENTRY_POINTS = "opentelemetry_traces_exporter"
# "otlp" is the specification's name; the OTLP exporter shipped with Relais speaks HTTP.
EXPORTER_ALIASES = {"otlp": "otlp_proto_http"}
REDACTED_HTTP_ATTRIBUTES = (
    "http.target",
    "http.url",
    "url.full",
    "url.path",
    "url.query",
    "net.peer.ip",
    "net.peer.port",
    "client.address",
    "client.port",
    "http.client_ip",
    "http.user_agent",
    "user_agent.original",
)
REDACTED = "[redacted]"

tracer = trace.get_tracer("relais_runtime")


def trace_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka headers; empty outside any span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


def context_from_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> Context:
    carrier = {
        name: value.decode("utf-8", "replace") for name, value in headers or () if value is not None
    }
    return propagate.extract(carrier)


def trace_id_of(span: Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


@contextmanager
def consumer_span(
    *,
    topic: str,
    partition: int,
    offset: int,
    group: str,
    headers: Iterable[tuple[str, bytes | None]] | None,
) -> Iterator[Span]:
    """Handle one Kafka message inside a CONSUMER span, child of its headers' context."""
    with tracer.start_as_current_span(
        f"{topic} process",
        context=context_from_headers(headers),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            "messaging.consumer.group.name": group,
        },
    ) as span:
        context = span.get_span_context()
        structlog.contextvars.bind_contextvars(
            trace_id=trace_id_of(span), span_id=format(context.span_id, "016x")
        )
        try:
            yield span
        finally:
            structlog.contextvars.unbind_contextvars("trace_id", "span_id")


@contextmanager
def batch_consumer_span(
    *,
    topic: str,
    group: str,
    headers: Sequence[Iterable[tuple[str, bytes | None]] | None],
    on: trace.Tracer | None = None,
) -> Iterator[Span]:
    """Handle a batch inside one CONSUMER span linked to each message's producer span.

    A batch has many parents, so per the messaging conventions the span starts a trace of
    its own and links to every message's context: a trace viewer follows a message from
    its producer into the batch that handled it.
    """
    links = [
        trace.Link(context)
        for message_headers in headers
        if (
            context := trace.get_current_span(
                context_from_headers(message_headers)
            ).get_span_context()
        ).is_valid
    ]
    with (on or tracer).start_as_current_span(
        f"{topic} process",
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.batch.message_count": len(headers),
        },
    ) as span:
        structlog.contextvars.bind_contextvars(trace_id=trace_id_of(span))
        try:
            yield span
        finally:
            structlog.contextvars.unbind_contextvars("trace_id")


def mark_failed(span: Span, *, reason: str) -> None:
    span.set_status(Status(StatusCode.ERROR, reason))


def redact_http_attributes(span: Span, _scope: dict[str, Any]) -> None:
    """FastAPI server hook: keep the route (span name), drop the URL and who called."""
    attributes = getattr(span, "attributes", None) or {}
    for name in REDACTED_HTTP_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, REDACTED)


def instrument_http(app: FastAPI, *, tracer_provider: trace.TracerProvider | None = None) -> None:
    """A server span per request, named after its route; probes and /metrics untraced.

    Imported on use, like the client instrumentations: the Kafka helpers import this
    module, and a command-line tool that only produces messages should not load FastAPI."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        excluded_urls="/health,/ready,/metrics",
        server_request_hook=redact_http_attributes,
        exclude_spans=["receive", "send"],
    )


def origin_only(span: Span, request: RequestInfo) -> None:
    """httpx request hook: the URL attributes keep scheme, host and port only."""
    url = httpx.URL(request.url) if isinstance(request.url, httpx.URL) else None
    origin = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}" if url else REDACTED
    for name in ("url.full", "http.url"):
        span.set_attribute(name, origin)


async def origin_only_async(span: Span, request: RequestInfo) -> None:
    origin_only(span, request)


def instrument_clients(*, tracer_provider: trace.TracerProvider | None = None) -> None:
    """CLIENT spans for httpx and asyncpg calls (once per process; later calls do nothing).

    The instrumentations are imported here, on use: most processes never configure an
    exporter, and importing them costs every `relais` command start-up time."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    httpx_instrumentor = HTTPXClientInstrumentor()
    if not httpx_instrumentor.is_instrumented_by_opentelemetry:
        httpx_instrumentor.instrument(
            tracer_provider=tracer_provider,
            request_hook=origin_only,
            async_request_hook=origin_only_async,
        )
    asyncpg_instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    if not asyncpg_instrumentor.is_instrumented_by_opentelemetry:
        asyncpg_instrumentor.instrument(tracer_provider=tracer_provider)


def exporter_names(spec: str) -> list[str]:
    names = [name.strip().lower() for name in spec.split(",") if name.strip()]
    return [EXPORTER_ALIASES.get(name, name) for name in names if name != "none"]


def load_exporter(name: str) -> SpanExporter:
    """Instantiate an exporter registered under `opentelemetry_traces_exporter`."""
    found = list(entry_points(group=EXPORTER_ENTRY_POINTS, name=name))
    if not found:
        known = sorted(
            {"none", *EXPORTER_ALIASES, *entry_points(group=EXPORTER_ENTRY_POINTS).names}
        )
        raise ConfigurationError(
            f"environment: OTEL_TRACES_EXPORTER: unknown exporter {name!r} "
            f"(known: {', '.join(known)})"
        )
    exporter: SpanExporter = found[0].load()()
    return exporter


def service_resource(*, service: str) -> Resource:
    """Resource attributes from OTEL_RESOURCE_ATTRIBUTES/OTEL_SERVICE_NAME, else relais-<svc>."""
    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: f"relais-{service}"}))
    return detected


def configure_tracing(*, service: str, exporters: str = "none") -> TracerProvider:
    """Install the process's tracer provider once; an existing SDK provider is kept."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=service_resource(service=service))
    loaded = _load_all(exporter_names(exporters))
    for exporter in loaded:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if loaded:
        instrument_clients(tracer_provider=provider)
    return provider


def _load_all(names: Sequence[str]) -> list[SpanExporter]:
    return [load_exporter(name) for name in names]
