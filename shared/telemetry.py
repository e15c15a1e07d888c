"""Telemetry in one place: OpenTelemetry traces across HTTP, PostgreSQL and Kafka, JSON logs that
carry the trace id, and the Prometheus metrics every service exposes at `GET /metrics`.

Traces
------
A TracerProvider is always installed, so trace ids exist for logs, problem responses and the
`traceparent` header carried on every Kafka record (a consumer's span joins the producer's trace).
Nothing is *exported* unless the standard OpenTelemetry variables ask for it:

- `OTEL_TRACES_EXPORTER=otlp` (or just `OTEL_EXPORTER_OTLP_ENDPOINT` /
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set) sends OTLP over HTTP/protobuf to any collector
  (OpenTelemetry Collector, Jaeger, Tempo, Honeycomb, ...), e.g.

      OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 make up

  `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT` and friends are honoured by the
  exporter; `OTEL_TRACES_SAMPLER` by the provider.
- `OTEL_TRACES_EXPORTER=console` prints finished spans on stdout (several: `otlp,console`).
- `OTEL_TRACES_EXPORTER=none` exports nothing even when an endpoint is set.
- `OTEL_SDK_DISABLED=true` turns the SDK off: no spans, no trace ids.

Logs
----
One JSON object per line on stderr: `ts`, `level`, `logger`, `message`, `service`, `trace_id` and
`span_id` (inside a span), `exc` (with a traceback), plus any `extra=` fields. `LOG_LEVEL` sets
the level (default INFO); uvicorn's access log is quiet (WARNING) unless `LOG_ACCESS=1`.

Metrics, and what to alert on
-----------------------------
- `jiph_http_requests_total{service,method,route,status}` and
  `jiph_http_request_duration_seconds{service,method,route}` (route is the template, e.g.
  `/v1/requests/{request_id}`, or `unmatched`): alert on a 5xx rate above ~1 % of requests, and
  on p99 latency well above its usual level.
- `jiph_outbox_backlog{service}`: events stored but not yet on Kafka. Alert when it stays above
  0 for several minutes (Kafka unreachable, relay stuck). `jiph_outbox_published_total{service,
  topic}` should keep moving while there is traffic.
- `jiph_consumer_lag{service,topic,partition}`: records behind the end of a partition. Alert when
  it grows for several minutes (consumer stuck or too slow); a brief spike is normal.
- `jiph_consumer_events_applied_total{service,topic,event_type}` (throughput) and
  `jiph_consumer_duplicates_skipped_total{service,topic}` (redeliveries absorbed; no alert).
- `jiph_deadletters_total{service,topic}`: alert on any increase. An event could not be applied
  and later events for the same key are parked until an operator redrives or skips it
  (`jiph deadletters`). `jiph_deadletter_parked{service}` is how many events wait behind dead
  letters: alert while it is above 0. (Both backlog gauges are counted from the service's
  database every 5 s.)
- `jiph_projection_rebuild_events_total{service}`: progress of a rebuild (`jiph replay`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
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
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "HttpMetricsMiddleware",
    "JsonFormatter",
    "add_metrics_route",
    "configure_logging",
    "consumer_duplicates_skipped",
    "consumer_events_applied",
    "consumer_lag",
    "context_from_traceparent",
    "current_trace_id",
    "current_traceparent",
    "deadletter_parked",
    "deadletters_total",
    "extract_context",
    "get_tracer",
    "http_latency",
    "http_requests",
    "inject_headers",
    "instrument_app",
    "kafka_attributes",
    "metrics_endpoint",
    "outbox_backlog",
    "outbox_published",
    "projection_rebuild_events",
    "setup_telemetry",
    "start_consumer_span",
    "start_producer_span",
]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_provider: TracerProvider | None = None
_service_name = "jiph"
_asyncpg_instrumented = False
_W3C = TraceContextTextMapPropagator()

# --- metrics -------------------------------------------------------------------------------
# Defined once, at import, in prometheus_client's default registry.
http_requests = Counter(
    "jiph_http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
http_latency = Histogram(
    "jiph_http_request_duration_seconds",
    "HTTP request latency, by route template",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
outbox_backlog = Gauge("jiph_outbox_backlog", "Stored events not yet published", ["service"])
outbox_published = Counter(
    "jiph_outbox_published_total", "Events published to Kafka by the relay", ["service", "topic"]
)
consumer_lag = Gauge(
    "jiph_consumer_lag",
    "Records behind the end of the partition",
    ["service", "topic", "partition"],
)
consumer_events_applied = Counter(
    "jiph_consumer_events_applied_total",
    "Events applied to the projection",
    ["service", "topic", "event_type"],
)
consumer_duplicates_skipped = Counter(
    "jiph_consumer_duplicates_skipped_total",
    "Redelivered events skipped (already applied)",
    ["service", "topic"],
)
deadletters_total = Counter(
    "jiph_deadletters_total", "Events that could not be applied", ["service", "topic"]
)
deadletter_parked = Gauge(
    "jiph_deadletter_parked", "Events parked behind dead letters", ["service"]
)
projection_rebuild_events = Counter(
    "jiph_projection_rebuild_events_total", "Records replayed by projection rebuilds", ["service"]
)


# --- tracing -------------------------------------------------------------------------------
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
    global _provider, _service_name
    with _lock:
        _service_name = service_name
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


# --- logging -------------------------------------------------------------------------------
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_HANDLER_MARK = "_jiph_json_handler"


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _dumps(entry: dict[str, Any]) -> str:
    try:
        return orjson.dumps(entry, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. integers beyond 64 bits
        return json.dumps(entry, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the current trace and span ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": _service_name,
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            entry["trace_id"] = format(ctx.trace_id, "032x")
            entry["span_id"] = format(ctx.span_id, "016x")
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in entry and not name.startswith("_"):
                entry[name] = value
        return _dumps(entry)


class _StderrJsonHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (so redirection and capture work)."""

    terminator = "\n"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def _level_from_env() -> int:
    name = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def configure_logging(service_name: str) -> None:
    """JSON logs on stderr through the root logger; idempotent (one handler however often called).

    Level from `LOG_LEVEL` (default INFO). uvicorn's loggers propagate to the root handler;
    `uvicorn.access` logs at WARNING unless `LOG_ACCESS=1`.
    """
    global _service_name
    _service_name = service_name
    root = logging.getLogger()
    root.setLevel(_level_from_env())
    if not any(getattr(h, _HANDLER_MARK, False) for h in root.handlers):
        handler = _StderrJsonHandler()
        handler.setFormatter(JsonFormatter())
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access_level = logging.INFO if os.environ.get("LOG_ACCESS") == "1" else logging.WARNING
    logging.getLogger("uvicorn.access").setLevel(access_level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


# --- HTTP metrics ---------------------------------------------------------------------------
def _match_template(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The path template of the route the router would pick (a method mismatch counts)."""
    partial: str | None = None
    for route in routes:
        match, child_scope = route.matches(scope)
        if match == Match.NONE:
            continue
        path = str(getattr(route, "path", "")) or "/"
        if isinstance(route, Mount) and route.routes:
            inner = _match_template(route.routes, {**scope, **child_scope})
            if inner is None:
                continue
            path = route.path + inner
        if match == Match.FULL:
            return path
        if partial is None:
            partial = path
    return partial


def route_template(scope: Scope, routes: Sequence[BaseRoute] | None = None) -> str:
    """The route template for a request scope (`/v1/requests/{request_id}`), or `unmatched`."""
    if routes is None:
        app = scope.get("app")
        router = getattr(app, "router", None)
        routes = getattr(router, "routes", None)
        if routes is None:
            return "unmatched"
    try:
        return _match_template(routes, scope) or "unmatched"
    except Exception:  # a route that cannot judge this scope must not break the request
        return "unmatched"


class HttpMetricsMiddleware:
    """Pure ASGI middleware counting and timing HTTP requests by route template.

    Labels stay bounded: the route is the template the router matched, or `unmatched`. A request
    whose app raised is counted with status 500. `service` defaults to the one set up by
    `setup_telemetry`; `routes` to the routes of the Starlette/FastAPI app in the scope.
    """

    def __init__(
        self, app: ASGIApp, service: str | None = None, routes: Sequence[BaseRoute] | None = None
    ) -> None:
        self.app = app
        self.service = service
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_template(scope, self.routes)  # before the app: routers rewrite the scope
        method = str(scope.get("method", "GET"))
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        except Exception:
            status = 500
            raise
        finally:
            service = self.service or _service_name
            http_requests.labels(service, method, route, str(status)).inc()
            http_latency.labels(service, method, route).observe(time.perf_counter() - started)


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
    app.add_middleware(HttpMetricsMiddleware, service=_service_name)


def metrics_endpoint(_request: Request | None = None) -> Response:
    """The default registry in Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def add_metrics_route(app: FastAPI) -> None:
    """Mount `GET /metrics` (left out of the OpenAPI schema). Calling it twice is harmless."""
    if getattr(app.state, "jiph_metrics_route", False):
        return
    app.state.jiph_metrics_route = True
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
