"""Trace context helpers: headers in, headers out, exporter selection (no I/O)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from relais_contracts.envelope import utc_now
from relais_contracts.topics import dead_letters
from relais_runtime.http import build_http_app
from relais_runtime.kafka import event_headers
from relais_runtime.settings import ConfigurationError, RuntimeSettings
from relais_runtime.tracing import (
    REDACTED,
    batch_consumer_span,
    context_from_headers,
    exporter_names,
    instrument_http,
    load_exporter,
)

# A private provider: spans are recorded without touching the process's global one.
tracer = TracerProvider().get_tracer("tests")


def an_event() -> dead_letters.MessageDeadLettered:
    return dead_letters.MessageDeadLettered(
        occurred_at=utc_now(),
        merchant_id="acme",
        correlation_id="shp-1",
        consumer_group="g",
        source_topic="t",
        source_partition=0,
        source_offset=1,
        source_headers={},
        original_value_b64="",
        reason=dead_letters.DeadLetterReason(kind="invalid", message="m", attempts=1),
    )


def test_headers_carry_the_current_span_and_read_back_as_its_context() -> None:
    with tracer.start_as_current_span("publish") as span:
        headers = event_headers(an_event())
    names = [name for name, _ in headers]
    assert names.count("traceparent") == 1
    assert names[:5] == [
        "content-type",
        "event_type",
        "schema_version",
        "correlation_id",
        "merchant_id",
    ]

    extracted = trace.get_current_span(context_from_headers(headers)).get_span_context()
    assert extracted.trace_id == span.get_span_context().trace_id
    assert extracted.span_id == span.get_span_context().span_id
    assert extracted.is_remote


def test_outside_any_span_no_trace_header_is_written() -> None:
    assert "traceparent" not in dict(event_headers(an_event()))


def test_a_malformed_traceparent_starts_a_new_trace_instead_of_failing() -> None:
    context = context_from_headers([("traceparent", b"not-a-trace"), ("other", None)])
    assert not trace.get_current_span(context).get_span_context().is_valid


def test_exporter_names_default_to_none_and_otlp_means_otlp_over_http() -> None:
    assert exporter_names("none") == []
    assert exporter_names(RuntimeSettings().otel_traces_exporter) == []
    assert exporter_names("console, otlp") == ["console", "otlp_proto_http"]


def test_exporters_load_from_their_entry_points() -> None:
    assert isinstance(load_exporter("console"), ConsoleSpanExporter)


def test_an_unknown_exporter_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_EXPORTER: unknown exporter 'zipkn'"):
        load_exporter("zipkn")


def test_http_requests_are_spans_named_by_route_without_url_client_or_probes() -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    router = APIRouter()

    @router.get("/c/{token}")
    async def chat_page(token: str) -> dict[str, str]:
        return {"page": "chat"}

    app = build_http_app(service="chat", readiness={}, routers=[router])
    instrument_http(app, tracer_provider=provider)
    client = TestClient(app)
    assert client.get("/c/signed-token-123?lang=fr").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200

    (span,) = spans.get_finished_spans()
    assert span.name == "GET /c/{token}"
    assert span.kind is trace.SpanKind.SERVER
    attributes = dict(span.attributes or {})
    recorded = " ".join(str(value) for value in attributes.values())
    assert "signed-token-123" not in recorded
    assert "testclient" not in recorded
    assert attributes["http.target"] == REDACTED


def test_a_batch_span_links_to_every_message_it_handles() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    producer = provider.get_tracer("producer")
    produced = []
    for _ in range(3):
        with producer.start_as_current_span("publish") as span:
            produced.append((span.get_span_context(), event_headers(an_event())))
    headers = [message_headers for _, message_headers in produced] + [None]

    with batch_consumer_span(
        topic="relais.t.v1", group="g", headers=headers, on=provider.get_tracer("consumer")
    ):
        pass

    batch = next(span for span in exporter.get_finished_spans() if span.name.endswith("process"))
    assert batch.kind is SpanKind.CONSUMER
    assert batch.attributes is not None
    assert batch.attributes["messaging.batch.message_count"] == 4
    assert [link.context.span_id for link in batch.links] == [
        context.span_id for context, _ in produced
    ]
