"""Tracing: a TracerProvider always installed (trace ids for logs, problems and Kafka records),
exporters only when the standard OTEL_* variables ask; spans that join a trace across Kafka."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from shared.telemetry.logs import configure_logging
from shared.telemetry.metrics import HttpMetricsMiddleware

log = logging.getLogger(__name__)

_lock = threading.Lock()
_provider: TracerProvider | None = None
_asyncpg_instrumented = False
_W3C = TraceContextTextMapPropagator()


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


def _exporter_processors() -> list[SpanProcessor]:
    """Span processors for the exporters the standard `OTEL_*` variables ask for."""
    if _env_true("OTEL_SDK_DISABLED"):
        return []
    names = [
        n.strip().lower()
        for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if n.strip()
    ]
    if not names and (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        names = ["otlp"]
    processors: list[SpanProcessor] = []
    for name in dict.fromkeys(names):
        if name == "none":
            return []
        if name == "console":
            processors.append(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name in ("otlp", "otlp_proto_http"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            log.warning("OTEL_TRACES_EXPORTER=%s is not supported here; ignored", name)
    return processors


class _RecordWhenExporting(Sampler):
    """Record spans only once something receives them (an exporter, a test's processor).
    Building spans nobody reads costs CPU on every request and every query; without them, trace
    ids are still made and carried (logs, problem documents, Kafka headers)."""

    def __init__(self) -> None:
        self.exporting = False
        self._recording = ParentBased(ALWAYS_ON)

    def should_sample(
        self, parent_context: Context | None, *args: Any, **kwargs: Any
    ) -> SamplingResult:
        if not self.exporting:
            return SamplingResult(Decision.DROP)
        return self._recording.should_sample(parent_context, *args, **kwargs)

    def get_description(self) -> str:
        return "RecordWhenExporting"


_sampler = _RecordWhenExporting()


def setup_telemetry(
    service_name: str, *, span_processors: Sequence[SpanProcessor] = ()
) -> TracerProvider:
    """Install tracing and JSON logging, once per process; returns the TracerProvider.

    The first call builds the provider (resource `service.name`, exporters per `OTEL_*`) and makes
    it global. Later calls only add `span_processors` to it (OpenTelemetry refuses to replace a
    global provider). If the process already had an SDK provider (e.g. under
    `opentelemetry-instrument`), that one is adopted rather than shadowed.
    """
    global _provider
    with _lock:
        if _provider is None:
            existing = trace.get_tracer_provider()
            if isinstance(existing, TracerProvider):
                _provider = existing
            else:
                _provider = TracerProvider(
                    resource=Resource.create({"service.name": service_name}), sampler=_sampler
                )
                for processor in _exporter_processors():
                    _provider.add_span_processor(processor)
                    _sampler.exporting = True
                trace.set_tracer_provider(_provider)
        for processor in span_processors:
            _provider.add_span_processor(processor)
            _sampler.exporting = True
        provider = _provider
    configure_logging(service_name)
    return provider


def get_tracer() -> trace.Tracer:
    """The tracer for the service's own spans (the installed provider's, else the global)."""
    provider = _provider if _provider is not None else trace.get_tracer_provider()
    return provider.get_tracer("jiph")


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, or None outside a (valid) span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, or None outside a (valid) span."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> Context:
    """A context whose parent is the span named by `traceparent` (empty if None or invalid)."""
    return _W3C.extract({"traceparent": traceparent} if traceparent else {}, context=Context())


def inject_headers(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Kafka headers plus the current context's `traceparent` (and `tracestate`, if any).

    Returns a new list; headers the propagator writes replace same-named ones already there.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if not carrier:
        return list(headers)
    kept = [(k, v) for k, v in headers if k.lower() not in carrier]
    return [*kept, *((k, v.encode()) for k, v in carrier.items())]


def extract_context(headers: Sequence[tuple[str, bytes]] | None) -> Context:
    """The context carried in Kafka headers (empty when there is none)."""
    carrier: dict[str, str] = {}
    for key, value in headers or ():
        if value is not None:
            carrier[key.lower()] = bytes(value).decode("utf-8", errors="replace")
    return propagate.extract(carrier, context=Context())


def kafka_attributes(
    *,
    topic: str | None = None,
    key: str | bytes | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> dict[str, AttributeValue]:
    """Messaging semantic-convention attributes for a Kafka record (only those given)."""
    attrs: dict[str, AttributeValue] = {"messaging.system": "kafka"}
    if topic is not None:
        attrs["messaging.destination.name"] = topic
    if key is not None:
        attrs["messaging.kafka.message.key"] = (
            key.decode("utf-8", errors="replace") if isinstance(key, bytes) else key
        )
    if partition is not None:
        attrs["messaging.destination.partition.id"] = str(partition)
    if offset is not None:
        attrs["messaging.kafka.offset"] = offset
    return attrs


def _span_attributes(
    base: dict[str, AttributeValue], attributes: Mapping[str, Any] | None
) -> dict[str, AttributeValue]:
    for name, value in (attributes or {}).items():
        if value is None:
            continue
        if isinstance(value, str | bool | int | float):
            base[name] = value
        elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
            base[name] = [str(v) for v in value]
        else:
            base[name] = str(value)
    return base


@contextlib.contextmanager
def start_consumer_span(
    name: str,
    headers_or_traceparent: str | Sequence[tuple[str, bytes]] | None,
    attributes: Mapping[str, Any] | None = None,
    *,
    topic: str | None = None,
    key: str | bytes | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> Iterator[trace.Span]:
    """A current CONSUMER span, child of the producer's span named by the record's headers (or a
    bare `traceparent` string); a new trace when there is none."""
    if headers_or_traceparent is None or isinstance(headers_or_traceparent, str):
        parent = context_from_traceparent(headers_or_traceparent)
    else:
        parent = extract_context(headers_or_traceparent)
    attrs = kafka_attributes(topic=topic, key=key, partition=partition, offset=offset)
    attrs["messaging.operation.type"] = "process"
    with get_tracer().start_as_current_span(
        name,
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes=_span_attributes(attrs, attributes),
    ) as span:
        yield span


@contextlib.contextmanager
def start_producer_span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    topic: str | None = None,
    key: str | bytes | None = None,
) -> Iterator[trace.Span]:
    """A current PRODUCER span; `inject_headers` inside it names it as the consumers' parent."""
    attrs = kafka_attributes(topic=topic, key=key)
    attrs["messaging.operation.type"] = "send"
    with get_tracer().start_as_current_span(
        name, kind=trace.SpanKind.PRODUCER, attributes=_span_attributes(attrs, attributes)
    ) as span:
        yield span


def instrument_app(app: FastAPI) -> None:
    """Trace the app's requests (not /healthz, /readyz, /metrics) and, when spans are exported,
    asyncpg queries; count and time requests in Prometheus. Calling it twice for one app is
    harmless. (Query spans are leaves: nothing downstream needs their context, and wrapping
    every statement cost a tenth of a consumer's CPU even with spans dropped.)"""
    global _asyncpg_instrumented
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    if getattr(app.state, "jiph_instrumented", False):
        return
    app.state.jiph_instrumented = True
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/healthz$,/readyz$,/metrics$", tracer_provider=_provider
    )
    with _lock:
        if _sampler.exporting and not _asyncpg_instrumented:
            instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=_provider)
            _asyncpg_instrumented = True
    app.add_middleware(HttpMetricsMiddleware)
