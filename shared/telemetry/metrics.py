"""Prometheus metrics: the gateway's counters and gauges, HTTP requests by route template, and
`GET /metrics`. What each one means and when to alert is in the package's docstring."""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.route_table import UNMATCHED, RouteTable, route_path
from shared.telemetry import logs

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


def route_template(scope: Scope, routes: Sequence[BaseRoute] | None = None) -> str:
    """The route template for a request scope (`/v1/requests/{request_id}`), or `unmatched`."""
    return _template(scope, RouteTable(routes) if routes is not None else None)


def _template(scope: Scope, table: RouteTable | None) -> str:
    try:
        table = table or RouteTable.of(scope.get("app"))
        return table.template(route_path(scope), str(scope.get("method", "GET")))
    except Exception:  # a route that cannot judge this scope must not break the request
        return UNMATCHED


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
        self.table = RouteTable(routes) if routes is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = _template(scope, self.table)  # before the app: routers rewrite the scope
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
            service = self.service or logs.service_name()
            http_requests.labels(service, method, route, str(status)).inc()
            http_latency.labels(service, method, route).observe(time.perf_counter() - started)


def metrics_endpoint(_request: Request | None = None) -> Response:
    """The default registry in Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def add_metrics_route(app: FastAPI) -> None:
    """Mount `GET /metrics` (left out of the OpenAPI schema). Calling it twice is harmless."""
    if getattr(app.state, "jiph_metrics_route", False):
        return
    app.state.jiph_metrics_route = True
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
