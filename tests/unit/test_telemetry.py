"""Telemetry: Kafka trace propagation, JSON logs with trace ids, HTTP metrics, idempotent setup."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from shared import telemetry
from shared.telemetry import (
    add_metrics_route,
    context_from_traceparent,
    current_trace_id,
    current_traceparent,
    extract_context,
    inject_headers,
    instrument_app,
    setup_telemetry,
    start_consumer_span,
    start_producer_span,
)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_telemetry("telemetry-test", span_processors=[SimpleSpanProcessor(exporter)])
    yield exporter
    exporter.shutdown()


def _one(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def _json_lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


# --- Kafka trace propagation ------------------------------------------------------------------
def test_consumer_span_joins_the_producers_trace_through_kafka_headers(
    spans: InMemorySpanExporter,
) -> None:
    with start_producer_span("send jiph.requests", topic="jiph.requests", key="req-1"):
        headers = inject_headers([("event_type", b"RequestReceived")])
    assert ("event_type", b"RequestReceived") in headers
    assert any(k == "traceparent" for k, _ in headers)

    # Even inside an unrelated span, the consumer's parent is the producer named by the headers.
    with (
        get_tracer_span("poll loop"),
        start_consumer_span(
            "process jiph.requests",
            headers,
            {"jiph.service": "triage"},
            topic="jiph.requests",
            key=b"req-1",
            partition=3,
            offset=42,
        ),
    ):
        pass

    producer = _one(spans, "send jiph.requests")
    consumer = _one(spans, "process jiph.requests")
    assert producer.context is not None and consumer.context is not None
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.parent.is_remote
    assert producer.kind == trace.SpanKind.PRODUCER
    assert consumer.kind == trace.SpanKind.CONSUMER
    attrs = dict(consumer.attributes or {})
    assert attrs["messaging.system"] == "kafka"
    assert attrs["messaging.destination.name"] == "jiph.requests"
    assert attrs["messaging.kafka.message.key"] == "req-1"
    assert attrs["messaging.destination.partition.id"] == "3"
    assert attrs["messaging.kafka.offset"] == 42
    assert attrs["jiph.service"] == "triage"
    assert dict(producer.attributes or {})["messaging.kafka.message.key"] == "req-1"


def get_tracer_span(name: str) -> AbstractContextManager[trace.Span]:
    """A plain INTERNAL span, made current."""
    return telemetry.get_tracer().start_as_current_span(name)


def test_a_bare_traceparent_string_also_parents_the_consumer_span(
    spans: InMemorySpanExporter,
) -> None:
    with start_producer_span("send stored"):
        traceparent = current_traceparent()
        trace_id = current_trace_id()
    assert traceparent is not None and trace_id is not None
    assert traceparent.split("-")[1] == trace_id

    with start_consumer_span("apply Stored", traceparent):
        assert current_trace_id() == trace_id

    producer = _one(spans, "send stored")
    consumer = _one(spans, "apply Stored")
    assert consumer.parent is not None and producer.context is not None
    assert consumer.parent.span_id == producer.context.span_id


def test_without_a_traceparent_the_consumer_span_starts_a_new_trace(
    spans: InMemorySpanExporter,
) -> None:
    with get_tracer_span("outer"), start_consumer_span("orphan", None):
        pass
    with start_consumer_span("orphan from headers", [("other", b"x")]):
        pass
    assert _one(spans, "orphan").parent is None
    assert _one(spans, "orphan from headers").parent is None


def test_helpers_outside_any_span(spans: InMemorySpanExporter) -> None:
    assert current_trace_id() is None
    assert current_traceparent() is None
    assert inject_headers([("a", b"1")]) == [("a", b"1")]
    assert not trace.get_current_span(extract_context(None)).get_span_context().is_valid
    assert (
        not trace.get_current_span(context_from_traceparent("garbage")).get_span_context().is_valid
    )


def test_inject_headers_replaces_a_stale_traceparent(spans: InMemorySpanExporter) -> None:
    stale = [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")]
    with start_producer_span("send again"):
        headers = inject_headers(stale)
        expected = current_traceparent()
    assert [v for k, v in headers if k == "traceparent"] == [expected.encode() if expected else b""]


# --- JSON logs ----------------------------------------------------------------------------------
def test_log_lines_are_json_with_the_current_trace_id(
    spans: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("jiph.test.telemetry")
    with get_tracer_span("handling"):
        trace_id = current_trace_id()
        log.info("inside %s", "span", extra={"request_id": "r-1", "count": 3, "odd": object()})
    log.warning("outside")

    lines = _json_lines(capsys.readouterr().err)
    inside = next(line for line in lines if line["message"] == "inside span")
    assert inside["trace_id"] == trace_id
    assert isinstance(inside["span_id"], str) and len(inside["span_id"]) == 16
    assert inside["level"] == "INFO"
    assert inside["logger"] == "jiph.test.telemetry"
    assert inside["service"] == "telemetry-test"
    assert inside["request_id"] == "r-1"
    assert inside["count"] == 3
    assert isinstance(inside["odd"], str)
    assert str(inside["ts"]).endswith("Z")
    outside = next(line for line in lines if line["message"] == "outside")
    assert "trace_id" not in outside


def test_exceptions_are_logged_with_their_traceback(
    spans: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("jiph.test.telemetry")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    line = next(x for x in _json_lines(capsys.readouterr().err) if x["message"] == "it failed")
    assert line["level"] == "ERROR"
    assert "Traceback" in str(line["exc"])
    assert "ValueError: boom" in str(line["exc"])


def test_setup_twice_does_not_stack_handlers_or_providers() -> None:
    first_exporter, second_exporter = InMemorySpanExporter(), InMemorySpanExporter()
    first = setup_telemetry("twice", span_processors=[SimpleSpanProcessor(first_exporter)])
    second = setup_telemetry("twice", span_processors=[SimpleSpanProcessor(second_exporter)])
    assert first is second
    assert trace.get_tracer_provider() is first
    ours = [
        h for h in logging.getLogger().handlers if isinstance(h.formatter, telemetry.JsonFormatter)
    ]
    assert len(ours) == 1
    with telemetry.get_tracer().start_as_current_span("after both"):
        pass
    # Processors added by the second call join the same provider.
    assert [s.name for s in second_exporter.get_finished_spans()] == ["after both"]
    assert [s.name for s in first_exporter.get_finished_spans()] == ["after both"]


def test_uvicorn_access_log_is_quiet_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_ACCESS", raising=False)
    telemetry.configure_logging("quiet")
    assert logging.getLogger("uvicorn.access").level == logging.WARNING
    assert logging.getLogger("uvicorn").propagate
    monkeypatch.setenv("LOG_ACCESS", "1")
    telemetry.configure_logging("quiet")
    assert logging.getLogger("uvicorn.access").level == logging.INFO


# --- exporters from OTEL_* ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["ConsoleSpanExporter"]),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["OTLPSpanExporter"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["OTLPSpanExporter"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["OTLPSpanExporter"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["OTLPSpanExporter", "ConsoleSpanExporter"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, []),
    ],
)
def test_exporters_only_when_otel_variables_ask(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: list[str]
) -> None:
    for name in (
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    processors = telemetry._exporter_processors()
    try:
        assert all(isinstance(p, BatchSpanProcessor) for p in processors)
        names = [type(p._batch_processor._exporter).__name__ for p in processors]  # type: ignore[attr-defined]
        assert names == expected
        if "ConsoleSpanExporter" in expected:
            assert any(
                isinstance(p._batch_processor._exporter, ConsoleSpanExporter)  # type: ignore[attr-defined]
                for p in processors
            )
    finally:
        for p in processors:
            p.shutdown()


# --- HTTP metrics ---------------------------------------------------------------------------------
def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


async def test_http_metrics_use_route_templates_and_count_failures(
    spans: InMemorySpanExporter,
) -> None:
    service = f"http-{uuid.uuid4().hex[:8]}"
    setup_telemetry(service)
    app = FastAPI()
    instrument_app(app)
    instrument_app(app)  # harmless twice
    add_metrics_route(app)

    @app.get("/v1/requests/{request_id}")
    async def get_request(request_id: str) -> dict[str, str]:
        return {"id": request_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    raw_id = "abc123def456"
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        assert (await client.get(f"/v1/requests/{raw_id}")).status_code == 200
        assert (await client.get("/v1/requests/other")).status_code == 200
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get("/no/such/thing")).status_code == 404
        assert (await client.post("/v1/requests/x")).status_code == 405
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text

    assert "jiph_http_requests_total" in text
    assert raw_id not in text
    counts = {
        (labels["method"], labels["route"], labels["status"]): value
        for labels, value in _samples(text, "jiph_http_requests_total")
        if labels["service"] == service
    }
    assert counts[("GET", "/v1/requests/{request_id}", "200")] == 2
    assert counts[("GET", "/boom", "500")] == 1
    assert counts[("GET", "unmatched", "404")] == 1
    assert counts[("POST", "/v1/requests/{request_id}", "405")] == 1
    latency_count = REGISTRY.get_sample_value(
        "jiph_http_request_duration_seconds_count",
        {"service": service, "method": "GET", "route": "/v1/requests/{request_id}"},
    )
    assert latency_count == 2
    assert "/metrics" not in app.openapi()["paths"]

    # Requests are traced (server spans carry the route), /metrics is not.
    server_spans = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    routes = {dict(s.attributes or {}).get("http.route") for s in server_spans}
    assert "/v1/requests/{request_id}" in routes
    assert "/metrics" not in routes


def test_every_metric_is_exposed() -> None:
    text = telemetry.metrics_endpoint().body.decode()
    for name in (
        "jiph_http_requests_total",
        "jiph_http_request_duration_seconds",
        "jiph_outbox_backlog",
        "jiph_outbox_published_total",
        "jiph_consumer_lag",
        "jiph_consumer_events_applied_total",
        "jiph_consumer_duplicates_skipped_total",
        "jiph_deadletters_total",
        "jiph_deadletter_parked",
        "jiph_projection_rebuild_events_total",
    ):
        assert f"# TYPE {name} " in text, name
