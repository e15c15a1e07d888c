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

from shared.telemetry.logs import JsonFormatter, configure_logging
from shared.telemetry.metrics import (
    HttpMetricsMiddleware,
    add_metrics_route,
    consumer_duplicates_skipped,
    consumer_events_applied,
    consumer_lag,
    deadletter_parked,
    deadletters_total,
    http_latency,
    http_requests,
    metrics_endpoint,
    outbox_backlog,
    outbox_published,
    projection_rebuild_events,
    route_template,
)
from shared.telemetry.tracing import (
    _exporter_processors,
    context_from_traceparent,
    current_trace_id,
    current_traceparent,
    extract_context,
    get_tracer,
    inject_headers,
    instrument_app,
    kafka_attributes,
    setup_telemetry,
    start_consumer_span,
    start_producer_span,
)

__all__ = [
    "HttpMetricsMiddleware",
    "JsonFormatter",
    "_exporter_processors",
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
    "route_template",
    "setup_telemetry",
    "start_consumer_span",
    "start_producer_span",
]
